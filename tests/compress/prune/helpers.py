"""Shared test helpers: a tiny CNN, and the 'masked original' that a correct pruning must equal."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from aics.compress.prune.apply import param_keeps
from aics.compress.prune.dependency import DependencyGraph


class TinyNet(nn.Module):
    """conv-BN-ReLU -> conv-BN (+ residual) -> ReLU -> conv -> pool -> linear: every coupling kind."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8)
        self.c2, self.b2 = nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8)
        self.c3, self.b3 = nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)
        self.fc = nn.Linear(16 * 4 * 4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.b1(self.c1(x)))
        x = torch.relu(self.b2(self.c2(x)) + x)
        x = torch.relu(self.b3(self.c3(x)))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 4), 1))


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BN statistics so channels differ (random-init BN is an identity)."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)
    return model.eval()


def masked(dep: DependencyGraph, removed: set[int]) -> None:
    """Zero every parameter slice of the removed channels in ``dep.gm`` (affine params and producer
    rows; BN gammas and betas both): a removed channel then carries exact zeros, so the masked
    network must compute what the physically pruned one computes."""
    with torch.no_grad():
        for name, axes in param_keeps(dep, removed).items():
            if name.endswith("running_mean") or name.endswith("running_var"):
                continue
            t = dict(dep.gm.named_parameters())[name]
            for axis, keep in axes.items():
                drop = np.setdiff1d(np.arange(t.shape[axis]), keep)
                t.index_fill_(axis, torch.as_tensor(drop), 0.0)
