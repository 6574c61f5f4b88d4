"""A 1-D CNN for MNIST-1D (Greydanus 2020: 40-sample signals, 10 classes), the second pruning benchmark.

The IR has no conv1d, so the signal is viewed as a (1, 1, 40) image and every convolution is a
Conv2d with a 1 x k kernel: the same arithmetic and parameters as Conv1d, and every backend that
runs Conv2d runs it. conv(1->32, k5)-BN-ReLU, conv/2(32->64, k3), conv(64->64, k3), conv/2(64->128, k3),
each BN-ReLU, global average pool, Linear(128->10). Input (N, 40).
"""

from __future__ import annotations

import torch
from torch import nn

from aics.zoo.registry import ZooEntry


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, (1, k), (1, stride), (0, k // 2), bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class CNN1d(nn.Module):
    def __init__(self, widths: tuple[int, int, int, int] = (32, 64, 64, 128), num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _conv(1, widths[0], 5), _conv(widths[0], widths[1], 3, 2), _conv(widths[1], widths[2], 3),
            _conv(widths[2], widths[3], 3, 2),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[3], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x.unsqueeze(1).unsqueeze(1))  # (N, L) -> (N, 1, 1, L)
        return self.fc(torch.flatten(self.pool(x), 1))


ENTRIES = [
    ZooEntry("cnn1d", CNN1d, (1, 40), "1-D CNN for MNIST-1D (1 x k Conv2d kernels); input 1x40"),
]
