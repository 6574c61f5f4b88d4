"""The epilogue fusion plan: exact clamps fuse, everything else stays a layer of its own."""

from __future__ import annotations

import numpy as np
from torch import nn

from aics.compiler.passes.fuse_epilogue import clamp_of, plan_epilogues
from aics.compress.quant import quantize_graph
from aics.ir.torch_import import import_module
from aics.reference import qtensor as Q


def _q(module: nn.Module, shape=(1, 3, 8, 8)):
    graph = import_module(module.eval(), shape)
    return quantize_graph(graph, np.random.default_rng(0).standard_normal((4, *shape[1:])).astype(np.float32))


def test_relu_after_conv_is_absorbed_with_its_clamp() -> None:
    g = _q(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()))
    (epi,) = plan_epilogues(g).values()
    assert epi.anchor == "0" and epi.absorbed == ("1",) and epi.output == "1"
    assert epi.qmin == g.quant["1"].zero_point[0] and epi.qmax == 127


def test_relu6_is_a_two_sided_clamp_and_sigmoid_is_not_fused() -> None:
    g = _q(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU6(), nn.Conv2d(4, 4, 1), nn.Sigmoid()))
    plan = plan_epilogues(g)
    assert plan["0"].absorbed == ("1",) and plan["0"].qmax <= 127
    view = Q.QuantView(g)
    lo, hi = clamp_of(view, "1")
    assert (lo, hi) == (plan["0"].qmin, plan["0"].qmax)
    assert plan["2"].absorbed == () and clamp_of(view, "3") is None


def test_conv_output_read_twice_keeps_its_tensor() -> None:
    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            y = self.conv(x)
            return nn.functional.relu(y) + y

    g = _q(Two())
    assert plan_epilogues(g)["conv"].absorbed == ()
