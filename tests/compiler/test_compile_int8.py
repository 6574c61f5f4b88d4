"""int8 programs are bit-exact against the integer reference, whatever the tiling."""

from __future__ import annotations

import numpy as np
import pytest

from aics.compiler.compile import compile_graph
from aics.compiler.workflow import quantized_model, simulate
from aics.dlp.arch_io import load_arch, with_overrides
from aics.errors import CompileError
from aics.reference import run


def _exact(qgraph, arch, seed=0):
    sim = simulate(qgraph, arch, seed=seed)
    assert sim.report["bit_exact"], sim.report["max_abs_diff"]
    return sim


def test_lenet5_bit_exact_on_edge_int8() -> None:
    sim = _exact(quantized_model("lenet5"), load_arch("edge-int8"))
    names = [layer["name"] for layer in sim.report["layers"]]
    assert "features.0" not in names and "features.1" in names  # relu fused into the conv
    assert sim.report["cycles"] > 0 and sim.report["macs"] == 416_520


def test_mixed_ops_bit_exact(mixed_graph) -> None:
    ops = {layer["op"] for layer in _exact(mixed_graph, load_arch("edge-int8")).report["layers"]}
    assert {"conv2d", "max_pool2d", "avg_pool2d", "add", "sigmoid", "adaptive_avg_pool2d", "linear"} <= ops


def test_small_buffers_force_many_tiles_and_stay_exact(mixed_graph) -> None:
    arch = with_overrides(load_arch("edge-int8"), {"memory.nram_kib": 24, "memory.wram_kib": 2})
    compiled = compile_graph(mixed_graph, arch)
    big = compile_graph(mixed_graph, load_arch("edge-int8"))
    assert len(compiled.program.code[0]) > len(big.program.code[0])
    _exact(mixed_graph, arch, seed=3)


def test_residual_network_bit_exact() -> None:
    _exact(quantized_model("digits_resnet"), load_arch("edge-int8"))


def test_tile_that_cannot_fit_names_layer_buffer_and_bytes(qmodule) -> None:
    from torch import nn

    arch = with_overrides(load_arch("edge-int8"), {"memory.wram_kib": 1})
    conv = qmodule(nn.Sequential(nn.Conv2d(128, 4, 3)), (1, 128, 4, 4))
    with pytest.raises(CompileError, match=r"layer '0': the smallest weight tile .* needs 1,152 bytes of WRAM"):
        compile_graph(conv, arch)
    fc = qmodule(nn.Sequential(nn.Flatten(), nn.Linear(2048, 4)), (1, 2048))
    with pytest.raises(CompileError, match=r"layer '1': one weight column needs 2,048 bytes of WRAM"):
        compile_graph(fc, arch)


def test_float_graph_is_refused() -> None:
    from aics.models import load_graph

    with pytest.raises(CompileError, match="not quantized"):
        compile_graph(load_graph("lenet5", weights=True), load_arch("edge-int8"))


def test_arch_changes_move_cycles_in_the_expected_direction(mixed_graph) -> None:
    base = load_arch("edge-int8")

    def cycles(overrides):
        return simulate(mixed_graph, with_overrides(base, overrides), functional=False).report["cycles"]

    ref = cycles({})
    assert cycles({"dram.bandwidth_gbps": 102.4}) < ref
    assert cycles({"dram.latency_cycles": 400}) > ref
    assert cycles({"matrix.rows": 8, "matrix.cols": 8}) > ref


def test_program_output_equals_reference_on_given_input(mixed_graph) -> None:
    x = np.random.default_rng(7).standard_normal(mixed_graph.inputs[0].shape).astype(np.float32)
    sim = simulate(mixed_graph, load_arch("edge-int8"), x)
    out = mixed_graph.outputs[0]
    assert np.array_equal(sim.outputs[out], run(mixed_graph, x, "int")[0])
