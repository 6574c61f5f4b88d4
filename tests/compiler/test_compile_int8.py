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
    assert {"conv2d", "conv2d+add", "max_pool2d", "avg_pool2d", "sigmoid", "adaptive_avg_pool2d", "linear"} <= ops


def test_add_of_two_non_conv_tensors_is_a_layer_of_its_own(qmodule) -> None:
    from torch import nn

    class PoolSum(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)

        def forward(self, x):
            c = self.conv(x)
            return nn.functional.relu(nn.functional.max_pool2d(c, 2) + nn.functional.avg_pool2d(c, 2))

    graph = qmodule(PoolSum(), (1, 3, 8, 8))
    ops = [layer["op"] for layer in _exact(graph, load_arch("edge-int8")).report["layers"]]
    assert "add" in ops and "relu" not in ops  # the relu is the add's clamp


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


@pytest.mark.parametrize("shape", [(1, 512), (1, 6, 512)])
def test_linear_cuts_k_into_accumulating_chunks_when_wram_is_small(qmodule, shape) -> None:
    from torch import nn

    graph = qmodule(nn.Sequential(nn.Linear(512, 40), nn.ReLU()), shape)
    arch = with_overrides(load_arch("edge-int8"), {"memory.wram_kib": 8})
    sim = _exact(graph, arch)
    matmuls = [i for i in sim.compiled.program.code[0] if type(i).__name__ == "MatMul"]
    assert any(i.accumulate for i in matmuls) and max(i.n for i in matmuls) == 32


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


def test_concat_split_and_channel_shuffle_bit_exact(shuffle_graph) -> None:
    ops = {layer["op"] for layer in _exact(shuffle_graph, load_arch("edge-int8")).report["layers"]}
    assert {"concat", "slice", "permute"} <= ops


@pytest.mark.parametrize("fixture", ["mixed_graph", "shuffle_graph"])
def test_four_cores_bit_exact_with_a_barrier_per_layer(fixture, request) -> None:
    graph = request.getfixturevalue(fixture)
    arch = load_arch("edge-int8-4core")
    sim = _exact(graph, arch)
    code = sim.compiled.program.code
    syncs = [sum(type(i).__name__ == "Sync" for i in core) for core in code]
    assert len(code) == 4 and syncs == [len(sim.compiled.layers)] * 4


def test_grouped_conv_whose_group_fits_wram_only_once(qmodule) -> None:
    """AlexNet's 2-group convs: one group's weights fit WRAM, two do not; the weight tiles then
    share one buffer (loads wait for the previous group's compute) instead of failing."""
    from torch import nn

    graph = qmodule(nn.Sequential(nn.Conv2d(64, 64, 3, padding=1, groups=2), nn.ReLU()), (1, 64, 8, 8))
    arch = with_overrides(load_arch("edge-int8"), {"memory.wram_kib": 16})  # a group: 9,216 bytes
    sim = _exact(graph, arch)
    assert sim.report["cycles"] > 0


@pytest.mark.parametrize("arch", ["edge-int8", "edge-int8-4core"])
def test_linear_input_too_big_for_nram_runs_in_row_blocks(qmodule, arch) -> None:
    """ViT-B's MLP input (197 x 3072) does not fit NRAM: the linear runs on blocks of rows."""
    from torch import nn

    graph = qmodule(nn.Sequential(nn.Linear(64, 32), nn.ReLU()), (1, 300, 64))  # x: 19,200 bytes
    small = with_overrides(load_arch(arch), {"memory.nram_kib": 16})
    sim = _exact(graph, small)
    matmuls = [i for i in sim.compiled.program.code[0] if type(i).__name__ == "MatMul"]
    assert max(i.m for i in matmuls) < 300 and sum(i.m for i in matmuls) >= 300
