"""Shared fixtures of the compiler tests: small quantized models (seeded, random weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from aics.compress.quant import quantize_graph
from aics.ir.graph import Graph
from aics.ir.torch_import import import_module


def quantize_module(module: nn.Module, shape: tuple[int, ...], seed: int = 0) -> Graph:
    torch.manual_seed(seed)
    for p in module.parameters():  # deterministic, not too small
        nn.init.uniform_(p, -0.5, 0.5)
    module.eval()
    graph = import_module(module, shape)
    calib = np.random.default_rng(seed).standard_normal((4, *shape[1:])).astype(np.float32)
    return quantize_graph(graph, calib)


class MixedNet(nn.Module):
    """Every lowering in one small net: strided/padded/dilated conv, grouped and depthwise conv,
    residual add + relu, max/avg pooling, sigmoid (LUT), global average, flatten, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.grouped = nn.Conv2d(16, 16, 3, padding=2, dilation=2, groups=4)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.pw = nn.Conv2d(16, 24, 1)
        self.avg = nn.AvgPool2d(2)
        self.fc = nn.Linear(24, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.stem(x)))
        y = torch.relu(self.grouped(x))
        x = torch.relu(x + self.dw(y))
        x = torch.sigmoid(self.pw(x))
        x = self.avg(x)
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


@pytest.fixture(scope="session")
def mixed_graph() -> Graph:
    return quantize_module(MixedNet(), (1, 3, 32, 32))


@pytest.fixture(scope="session")
def qmodule():
    """``quantize_module`` for tests that build their own small net."""
    return quantize_module


class ShuffleBlock(nn.Module):
    """ShuffleNet v2 style: split (slices), a branch, concat (re-quantizing), channel shuffle
    (reshape + permute), a strided slice of the spatial axis."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.branch = nn.Conv2d(4, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(x))
        a, b = x.chunk(2, dim=1)
        x = torch.cat([a, torch.relu(self.branch(b))], dim=1)
        n, c, h, w = x.shape
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
        return x[:, :, ::2, 1:]


@pytest.fixture(scope="session")
def shuffle_graph() -> Graph:
    return quantize_module(ShuffleBlock(), (1, 3, 8, 8))


ARCHS = ["edge-int8", "edge-int8-4core"]  # one core and four: every lowering must hold on both


def simulate_exact(graph: Graph, arch, seed: int = 0):
    """Compile + simulate ``graph``; assert bit-exact against the reference and that the DLP ran
    every layer (no host fallback)."""
    from aics.compiler.workflow import simulate

    sim = simulate(graph, arch, seed=seed)
    assert sim.report["bit_exact"], sim.report["max_abs_diff"]
    assert not sim.compiled.program.host_ops
    return sim
