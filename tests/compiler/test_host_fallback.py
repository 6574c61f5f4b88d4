"""Layers the DLP cannot run go to the host CPU: ``host`` barriers, bit-exact, costed, saved."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from aics.cli.main import main
from aics.compiler.compile import compile_graph
from aics.compiler.host_runtime import HostRuntime
from aics.compiler.lower.host import host_cycles
from aics.compiler.workflow import simulate
from aics.compress.quant import QuantPlan, quantize_graph
from aics.dlp import sim
from aics.dlp.arch_io import load_arch
from aics.dlp.isa import HostCall, Loc, Move, Space
from aics.dlp.program import HostOp, Program, load_program, save_program
from aics.errors import ProgramFormatError, SimulationError
from aics.ir.torch_import import import_module

from .conftest import quantize_module


class LrnNet(nn.Module):
    """conv -> LRN (float recipe: the host) -> relu -> conv: DLP, host, DLP."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.lrn = nn.LocalResponseNorm(3)
        self.b = nn.Conv2d(8, 4, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.relu(self.lrn(self.a(x))))


SHAPE = (1, 3, 12, 12)


@pytest.fixture(scope="module")
def lrn_graph():
    return quantize_module(LrnNet(), SHAPE)


@pytest.mark.parametrize("arch_name", ["edge-int8", "edge-int8-4core"])
def test_float_layer_runs_on_the_host_bit_exact(lrn_graph, arch_name) -> None:
    arch = load_arch(arch_name)
    s = simulate(lrn_graph, arch, seed=3)
    program = s.compiled.program
    assert [op.name.split(" ")[0] for op in program.host_ops] == ["lrn"]
    calls = [[i for i in code if isinstance(i, HostCall)] for code in program.code]
    assert all(len(c) == 1 for c in calls) and len(calls) == arch.cores  # a barrier on every core
    assert s.report["bit_exact"] is True
    lrn = next(layer for layer in s.report["layers"] if layer["op"] == "local_response_norm")
    assert lrn["bound"] == "host" and lrn["cycles"] == calls[0][0].cycles == s.report["host_cycles"]
    assert s.report["roofline_bound_cycles"] > s.report["host_cycles"]


def test_host_cost_follows_the_arch_host_model(lrn_graph) -> None:
    arch = load_arch("edge-int8")
    node = next(n for n in lrn_graph.nodes if n.op == "local_response_norm")
    fast = host_cycles(lrn_graph, node, arch, 1 << 20)
    slow = replace(arch, host=replace(arch.host, gflops=arch.host.gflops / 10, bandwidth_gbps=arch.host.bandwidth_gbps / 10))
    slower_cpu = host_cycles(lrn_graph, node, slow, 1 << 20)
    assert slower_cpu >= 9 * fast
    # memory bound at 1 MiB: bytes / bandwidth at the DLP clock
    assert fast == math.ceil((1 << 20) / (arch.host.bandwidth_gbps * 1e9) * arch.frequency_ghz * 1e9)


def test_mixed_precision_layer_kept_float_runs_on_the_host() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 5))
    graph = import_module(net.eval(), SHAPE)
    calib = np.random.default_rng(0).standard_normal((4, *SHAPE[1:])).astype(np.float32)
    head = next(n.name for n in graph.nodes if n.op == "linear")
    q = quantize_graph(graph, calib, QuantPlan(layers=((head, "float"),)))  # the classifier stays float
    s = simulate(q, load_arch("edge-int8"))
    assert s.report["bit_exact"] is True
    assert [op.name for op in s.compiled.program.host_ops] == [f"{head} (linear: float numerics)"]
    assert s.compiled.program.outputs[0].dtype.text == "fp32"
    out = next(iter(s.outputs.values()))
    assert out.dtype == np.float32 and np.array_equal(out, next(iter(s.reference.values())))


def test_program_file_keeps_host_ops_and_aics_run_executes_them(lrn_graph, tmp_path, capsys) -> None:
    arch = load_arch("edge-int8")
    s = simulate(lrn_graph, arch, seed=5)
    path = tmp_path / "lrn.dlp"
    save_program(s.compiled.program, path)
    assert load_program(path).host_ops == s.compiled.program.host_ops
    x = np.random.default_rng(5).standard_normal(SHAPE).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(path), "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"),
                 "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["cycles"] == s.report["cycles"]
    assert np.array_equal(np.load(tmp_path / "y.npy"), next(iter(s.outputs.values())))


def test_functional_run_without_a_host_runtime_is_refused(lrn_graph) -> None:
    arch = load_arch("edge-int8")
    program = compile_graph(lrn_graph, arch).program
    codes = {program.inputs[0].name: np.zeros(program.inputs[0].shape, np.int8)}
    with pytest.raises(SimulationError, match="host op 'lrn"):
        sim.run(program, arch, codes)
    assert sim.run(program, arch, codes, host=HostRuntime()).outputs  # with one it runs


def test_host_barrier_adds_its_cycles_between_the_units() -> None:
    arch = load_arch("edge-int8")
    load = Move(src=Loc(Space.DRAM, 0), dst=Loc(Space.NRAM, 0), shape=(1, 1, 256))
    op = HostOp("h", "{}", (), ())
    alone = sim.run(Program(code=((load, load),), dram_size=4096), arch, mode="timing").cycles
    with_host = sim.run(Program(code=((load, HostCall(op=0, cycles=1000, tag=1), load),), dram_size=4096,
                                host_ops=(op,), layers={1: "h"}), arch, mode="timing").timing
    assert with_host.cycles == alone + 1000 and with_host.host_cycles == 1000
    assert next(layer for layer in with_host.layers if layer.tag == 1).busy["host"] == 1000


def test_host_call_must_name_an_op_of_the_table() -> None:
    with pytest.raises(ProgramFormatError, match="host op 2 is not in the program's host-op table"):
        Program(code=((HostCall(op=2, cycles=1),),))



def test_trace_shows_host_layers_on_their_own_track(lrn_graph, tmp_path) -> None:
    arch = load_arch("edge-int8-4core")
    path = tmp_path / "trace.json"
    s = simulate(lrn_graph, arch, functional=False, trace=str(path))
    events = json.loads(path.read_text())["traceEvents"]
    host = [e for e in events if e["pid"] == arch.cores and e["ph"] == "X"]
    assert [e["name"] for e in host] == ["host lrn"] and host[0]["dur"] == s.report["host_cycles"]
    others = [e for e in events if e["ph"] == "X" and e["pid"] < arch.cores]
    assert all(e["ts"] + e["dur"] <= host[0]["ts"] or e["ts"] >= host[0]["ts"] + host[0]["dur"] for e in others)
