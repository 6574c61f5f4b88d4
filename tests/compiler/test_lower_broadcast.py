"""mul (full, per-channel, per-column and scalar operands) and expand: bit-exact on 1 and 4 cores."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from aics.dlp.arch_io import load_arch, with_overrides

from .conftest import ARCHS, simulate_exact


class SqueezeExcite(nn.Module):
    """x * sigmoid(fc(pool(x))): the gate (N, C, 1, 1) broadcast over H, W (SE-ResNet)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.fc = nn.Conv2d(16, 16, 1)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        return x * torch.sigmoid(self.fc(nn.functional.adaptive_avg_pool2d(x, 1)))


class Products(nn.Module):
    """A scalar scale, a full product and a per-column (last axis) constant."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(24, 24)
        self.b = nn.Linear(24, 24)
        self.w = nn.Parameter(torch.rand(24) + 0.5)

    def forward(self, x):
        y = self.a(x) * 0.125
        return (y * self.b(x)) * self.w


class Expand(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x):
        x = self.conv(x)
        m = x.mean((2, 3), keepdim=True).expand(-1, -1, 6, 6)
        return torch.cat([x, m], 1)


@pytest.mark.parametrize("arch", ARCHS)
def test_se_gate_mul_is_bit_exact(qmodule, arch) -> None:
    sim = simulate_exact(qmodule(SqueezeExcite(), (1, 3, 12, 12)), load_arch(arch))
    assert "mul" in {layer["op"] for layer in sim.report["layers"]}


@pytest.mark.parametrize("arch", ARCHS)
def test_scalar_full_and_column_products_are_bit_exact(qmodule, arch) -> None:
    sim = simulate_exact(qmodule(Products(), (1, 10, 24)), load_arch(arch))
    assert [layer["op"] for layer in sim.report["layers"]].count("mul") == 3


def test_mul_in_many_pieces_when_nram_is_small(qmodule) -> None:
    arch = with_overrides(load_arch("edge-int8"), {"memory.nram_kib": 8})
    simulate_exact(qmodule(SqueezeExcite(), (1, 3, 40, 40)), arch)


@pytest.mark.parametrize("arch", ARCHS)
def test_expand_is_a_broadcasting_copy(qmodule, arch) -> None:
    sim = simulate_exact(qmodule(Expand(), (1, 3, 6, 6)), load_arch(arch))
    assert "expand" in {layer["op"] for layer in sim.report["layers"]}


class SEResidual(nn.Module):
    """An SE block's tail: relu(x * gate + identity). The identity is ``x`` itself, or a branch the
    trace places after the mul: a 3x3 max pool, or a 1x1 conv (which takes the add as its epilogue)."""

    def __init__(self, identity: str) -> None:
        super().__init__()
        self.conv = nn.Conv2d(16, 16, 3, padding=1)
        self.fc = nn.Conv2d(16, 16, 1)
        self.down = {"x": nn.Identity(), "pool": nn.MaxPool2d(3, 1, 1), "conv": nn.Conv2d(16, 16, 1)}[identity]

    def forward(self, x):
        y = torch.relu(self.conv(x))
        y = y * torch.sigmoid(self.fc(nn.functional.adaptive_avg_pool2d(y, 1)))
        return torch.relu(y + self.down(x))


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("identity", ["x", "pool"])
def test_mul_then_residual_add_is_one_layer(qmodule, arch, identity) -> None:
    graph = qmodule(SEResidual(identity), (1, 16, 12, 12))
    sim = simulate_exact(graph, load_arch(arch))
    layers = [(layer.name, layer.op) for layer in sim.compiled.layers]
    ops = [op for _, op in layers]
    assert "mul+add" in ops and "mul" not in ops and "add" not in ops and "relu" not in ops
    if identity == "pool":  # the fused layer waits for the pool, which the trace put after the mul
        names = [n.name for n in graph.nodes]
        assert names.index("mul") < names.index("down")
        assert ops.index("max_pool2d") < ops.index("mul+add")


def test_a_conv_epilogue_keeps_its_residual_add(qmodule) -> None:
    sim = simulate_exact(qmodule(SEResidual("conv"), (1, 16, 12, 12)), load_arch("edge-int8"))
    ops = [layer.op for layer in sim.compiled.layers]
    assert "conv2d+add" in ops and "mul" in ops and "mul+add" not in ops
