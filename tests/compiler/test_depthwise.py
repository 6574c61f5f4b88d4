"""Depthwise convs: the tiling puts them on the vector unit (``dwconv``) or on the array
(block-diagonal tiles), whichever its model says is faster, and the program stays bit-exact."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from aics.compiler.tiling import ConvShape, conv_tiling
from aics.dlp.arch_io import load_arch, with_overrides

from .conftest import ARCHS, simulate_exact


class Separable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.dw = nn.Conv2d(32, 32, 3, stride=2, padding=1, groups=32)
        self.pw = nn.Conv2d(32, 16, 1)
        self.dw5 = nn.Conv2d(16, 16, 5, padding=2, dilation=1, groups=16)

    def forward(self, x):
        return self.dw5(torch.relu(self.pw(torch.relu(self.dw(x)))))


@pytest.fixture(scope="module")
def separable(qmodule):
    return qmodule(Separable(), (1, 32, 20, 20))


def _engines(sim) -> set[str]:
    return {type(i).__name__ for core in sim.compiled.program.code for i in core}


@pytest.mark.parametrize("arch", ARCHS)
def test_depthwise_runs_on_the_vector_unit_bit_exact(separable, arch) -> None:
    sim = simulate_exact(separable, load_arch(arch))
    assert {"DwConv", "Conv"} <= _engines(sim)  # dw on the vector unit, the pointwise conv on the array


def test_few_vector_lanes_send_depthwise_back_to_the_array(separable) -> None:
    arch = with_overrides(load_arch("edge-int8"), {"vector.lanes": 2})
    sim = simulate_exact(separable, arch)
    assert "DwConv" not in _engines(sim)


def test_vector_tiling_estimate_counts_macs_and_requant_on_the_vector_unit() -> None:
    arch = load_arch("edge-int8")  # 64 lanes
    shape = ConvShape(64, 56, 56, 64, 56, 56, 3, 3, (1, 1), (1, 1), 64)
    t = conv_tiling("dw", shape, arch, 12 * 64 + 64, allow_dense=True)
    assert t.vector and not t.dense
    macs, outputs = 64 * 56 * 56 * 9, 64 * 56 * 56
    assert t.estimate >= macs // 64 + outputs // 64  # vector-bound: MACs then requant, 64 per cycle
    grouped = ConvShape(64, 56, 56, 64, 56, 56, 3, 3, (1, 1), (1, 1), 16)  # 4 channels a group: not depthwise
    assert not conv_tiling("g", grouped, arch, 12 * 64 + 64, allow_dense=True).vector
