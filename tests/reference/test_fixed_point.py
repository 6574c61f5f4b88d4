"""Fixed-point (Qm.n, ``ap_fixed``) numerics: hand-computed codes, wrap vs saturate, trn vs rnd."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
import torch
from torch import nn

from aics.ir import attrs as A
from aics.ir.graph import Graph, GraphBuilder
from aics.ir.quant import QuantParams
from aics.ir.torch_import import import_module
from aics.models import load_graph
from aics.numerics import FixedType
from aics.reference import dequantize, run, run_all


def fx(width: int, frac: int, overflow: str = "wrap", rounding: str = "trn") -> QuantParams:
    return QuantParams("fixed", fixed=FixedType(width, frac, overflow=overflow, rounding=rounding))  # type: ignore[arg-type]


def _linear(qp: QuantParams, w: np.ndarray, b: np.ndarray) -> Graph:
    g = GraphBuilder("lin")
    x = g.input("x", (1, w.shape[1]))
    g.op("linear", [x, g.const("w", w.shape, data=w), g.const("b", b.shape, data=b)], A.NoAttrs(), "y")
    graph = g.build(["y"])
    return graph.with_nodes(graph.nodes, quant={"x": qp, "w": qp, "y": qp})


@pytest.mark.parametrize("overflow,expected", [("sat", [127, 88, -128]), ("wrap", [-96, 88, -8])])
def test_q26_linear_codes_by_hand(overflow: str, expected: list[int]) -> None:
    """x = (1.5, 1.0) has Q2.6 codes (96, 64); products accumulate exactly with 12 fractional bits
    and the bias joins at that precision; the sum is then cast to Q2.6 (>> 6, then overflow).

    row 0: w codes (64, 48): 6144 + 3072 + bias 0.25*4096 = 10240 (2.5)  -> 160: sat 127, wrap -96
    row 1: w codes (32, 8):  3072 + 512 + bias 0.5*4096 = 5632 (1.375)    -> 88 either way
    row 2: w codes (-64, -64): -10240 + bias -1.625*4096 = -16896 (-4.125) -> -264: sat -128, wrap -8
    """
    w = np.array([[1.0, 0.75], [0.5, 0.125], [-1.0, -1.0]], dtype=np.float32)
    b = np.array([0.25, 0.5, -1.625], dtype=np.float32)
    (y,) = run(_linear(fx(8, 6, overflow), w, b), np.array([[1.5, 1.0]], dtype=np.float32), "int")
    assert y.tolist() == [expected]


@pytest.mark.parametrize("rounding,expected", [("trn", [56, -57]), ("rnd", [57, -56])])
def test_q26_rounding_trn_vs_rnd(rounding: str, expected: list[int]) -> None:
    """acc = +-(96*32 + 64*8 + 2**-7 * 4096) = +-3616 = +-56.5 codes: AP_TRN floors (toward -inf),
    AP_RND rounds half up (toward +inf)."""
    w = np.array([[0.5, 0.125], [-0.5, -0.125]], dtype=np.float32)
    b = np.array([2.0**-7, -(2.0**-7)], dtype=np.float32)
    (y,) = run(_linear(fx(8, 6, "sat", rounding), w, b), np.array([[1.5, 1.0]], dtype=np.float32), "int")
    assert y.tolist() == [expected]


def test_add_aligns_formats_and_casts() -> None:
    """Q2.6 + Q4.4 -> Q3.5: both aligned to 6 fractional bits, added exactly, then cast."""
    g = GraphBuilder("add")
    a, b = g.input("a", (3,)), g.input("b", (3,))
    g.op("add", [a, b], A.NoAttrs(), "y")
    graph = g.build(["y"])
    graph = graph.with_nodes(graph.nodes, quant={"a": fx(8, 6), "b": fx(8, 4), "y": fx(8, 5, rounding="rnd")})
    a_codes = np.array([37, -64, 127], dtype=np.int8)  # 0.578125, -1, 1.984375
    b_codes = np.array([5, -3, 100], dtype=np.int8)  # 0.3125, -0.1875, 6.25
    (y,) = run(graph, {"a": a_codes, "b": b_codes}, "int")
    total = a_codes.astype(int) + b_codes.astype(int) * 4  # at 6 fractional bits
    codes = (total + 1) >> 1  # to 5 fractional bits, AP_RND
    assert y.tolist() == (((codes + 128) % 256) - 128).tolist() == [29, -38, 8]


@pytest.mark.parametrize("rounding,expected", [("trn", [1, -2, 0]), ("rnd", [2, -1, 0])])
def test_avg_pool_is_the_exact_quotient_assigned(rounding: str, expected: list[int]) -> None:
    g = GraphBuilder("pool")
    x = g.input("x", (1, 1, 1, 6))
    g.op("avg_pool2d", [x], A.Pool2dAttrs((1, 2), (1, 2)), "y")
    graph = g.build(["y"])
    qp = fx(8, 6, "sat", rounding)
    graph = graph.with_nodes(graph.nodes, quant={"x": qp, "y": qp})
    (y,) = run(graph, np.array([[[[1, 2, -1, -2, 0, 0]]]], dtype=np.int8), "int")
    assert y.ravel().tolist() == expected


def test_relu_lut_in_fixed_point() -> None:
    g = GraphBuilder("relu")
    x = g.input("x", (256,))
    g.op("relu", [x], A.NoAttrs(), "y")
    graph = g.build(["y"])
    graph = graph.with_nodes(graph.nodes, quant={"x": fx(8, 6), "y": fx(8, 6)})
    codes = np.arange(-128, 128, dtype=np.int8)
    np.testing.assert_array_equal(run(graph, codes, "int")[0], np.maximum(codes, 0))


class SmallNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 6 * 6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def test_q26_saturation_beats_wrap_when_overflow_happens(annotate: Callable[..., Graph]) -> None:
    """Weights and inputs in [-1, 1] but 18- and 144-term sums: the accumulators leave Q2.6's
    [-2, 2) range, so wrap folds large values onto small ones while sat clips them."""
    torch.manual_seed(0)
    model = SmallNet().eval()
    for p in model.parameters():
        nn.init.uniform_(p, -1, 1)
    graph = import_module(model, (1, 2, 6, 6))
    x = np.random.default_rng(0).uniform(-1, 1, (1, 2, 6, 6)).astype(np.float32)
    expected = run(graph, x)[0]
    float_conv = run_all(graph, x)["conv"]
    errors, sign_flips = {}, {}
    for overflow in ("wrap", "sat"):
        qgraph = annotate(graph, [x], FixedType(8, 6, overflow=overflow))  # type: ignore[arg-type]
        tensors = run_all(qgraph, x, "int")
        y = dequantize(qgraph, qgraph.outputs[0], tensors[qgraph.outputs[0]])
        errors[overflow] = float(np.abs(y - np.clip(expected, -2, 2 - 2**-6)).max())
        conv = dequantize(qgraph, "conv", tensors["conv"])
        sign_flips[overflow] = int(np.sum((np.sign(conv) * np.sign(float_conv)) < 0))
    assert np.abs(expected).max() > 2  # the overflow really happens
    assert sign_flips["wrap"] > 0 and sign_flips["sat"] == 0  # wrap turned large values around
    assert errors["sat"] < errors["wrap"]


def test_lenet_in_q6_10_tracks_float(annotate: Callable[..., Graph]) -> None:
    graph = load_graph("lenet5", weights=True)
    x = np.random.default_rng(0).standard_normal((1, 1, 32, 32)).astype(np.float32)
    qgraph = annotate(graph, [x], FixedType(16, 10, overflow="sat", rounding="rnd"))
    expected = run(graph, x)[0]
    y = dequantize(qgraph, qgraph.outputs[0], run(qgraph, x, "int")[0])
    assert np.abs(y - expected).max() < 0.05 * np.abs(expected).max()
