"""fp32 programs: the float graph on the DLP's float datapath, within float rounding of the float reference."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from aics.cli.main import main
from aics.compiler.workflow import quantized_model, simulate
from aics.dlp.arch_io import load_arch
from aics.dlp.isa import Conv, DType, HostCall, MatMul
from aics.ir.torch_import import import_module
from aics.reference import run


@pytest.mark.parametrize("model,shape", [("lenet5", None), ("resnet18", (1, 3, 32, 32)),
                                         ("mobilenet_v2", (1, 3, 32, 32)), ("mnist_mlp", None)])
def test_fp32_program_on_textbook_7_7_matches_the_float_reference(model, shape) -> None:
    graph = quantized_model(model, quant="fp32", input_shape=shape)
    s = simulate(graph, load_arch("textbook-7.7"), seed=1)
    assert s.report["quant"] == "fp32" and s.report["max_rel_diff"] < 1e-4
    assert s.report["host_cycles"] == 0  # every layer on the DLP
    code = s.compiled.program.code[0]
    assert all(i.dtype == DType.FP32 for i in code if isinstance(i, (Conv, MatMul)))
    x = np.random.default_rng(1).standard_normal(graph.inputs[0].shape).astype(np.float32)
    expected = run(graph, x)[0]
    got = next(iter(s.outputs.values()))
    assert got.dtype == np.float32 and np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()


def test_fp32_on_four_cores_computes_the_same() -> None:
    graph = quantized_model("resnet18", quant="fp32", input_shape=(1, 3, 32, 32))
    one = simulate(graph, load_arch("edge-int8"), seed=2)
    four = simulate(graph, load_arch("edge-int8-4core"), seed=2)
    assert np.array_equal(next(iter(one.outputs.values())), next(iter(four.outputs.values())))
    assert four.report["cycles"] < one.report["cycles"]


def test_fp32_layers_without_a_float_lowering_run_on_the_host() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Sigmoid(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)).eval()
    s = simulate(import_module(net, (1, 3, 8, 8)), load_arch("textbook-7.7"))
    assert [op.name for op in s.compiled.program.host_ops] == ["2 (sigmoid: no fp32 lowering)"]
    assert any(isinstance(i, HostCall) for i in s.compiled.program.code[0])
    assert s.report["max_rel_diff"] < 1e-4
    assert [layer["op"] for layer in s.report["layers"]] == ["conv2d", "sigmoid", "linear"]  # relu fused


def test_simulate_cli_fp32(capsys) -> None:
    assert main(["simulate", "lenet5", "--arch", "textbook-7.7", "--quant", "fp32", "-f", "json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["quant"] == "fp32" and r["max_rel_diff"] < 1e-4 and r["cycles"] > 0
