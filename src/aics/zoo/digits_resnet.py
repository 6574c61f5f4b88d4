"""A small residual CNN for sklearn's digits (8x8 upscaled to 16x16), the pruning benchmark model.

Same layout as the Torch-Pruning anchor's ``DigitNet`` (shared/anchors/torch_pruning_digits_baseline.py)
so results compare one to one: conv3x3(1->32)-BN-ReLU, conv3x3/2(32->64)-BN-ReLU, a residual block
[conv3x3(64->64)-BN-ReLU, conv3x3(64->64)-BN] + identity -> ReLU, conv3x3/2(64->128)-BN-ReLU, global
average pool, Linear(128->10). The residual add couples down1, res_b and down2's input channels.
7,152,896 MACs and 168,170 parameters at 16x16.
"""

from __future__ import annotations

import torch
from torch import nn

from aics.zoo._common import conv_bn
from aics.zoo.registry import ZooEntry


class DigitsResNet(nn.Module):
    def __init__(self, widths: tuple[int, int, int] = (32, 64, 128), num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.stem = conv_bn(in_channels, widths[0], 3, act=None)
        self.down1 = conv_bn(widths[0], widths[1], 3, 2, act=None)
        self.res_a = conv_bn(widths[1], widths[1], 3, act=None)
        self.res_b = conv_bn(widths[1], widths[1], 3, act=None)
        self.down2 = conv_bn(widths[1], widths[2], 3, 2, act=None)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[2], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.stem(x))
        x = self.relu(self.down1(x))
        x = self.relu(self.res_b(self.relu(self.res_a(x))) + x)
        x = self.relu(self.down2(x))
        return self.fc(torch.flatten(self.pool(x), 1))


ENTRIES = [
    ZooEntry("digits_resnet", DigitsResNet, (1, 1, 16, 16),
             "small residual CNN for digits (the pruning benchmark's DigitNet); input 1x1x16x16"),
]
