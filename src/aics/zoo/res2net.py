"""Res2Net-50 26w x 4s (Gao et al., TPAMI 2019), on the ResNet trunk of resnet.py.

The Bottle2neck block follows the official code (Res2Net/Res2Net-PretrainedModels, ``res2net.py``):
the 1x1 conv output (width*scale channels) is split into ``scale`` groups with torch.split; group i>0
goes through its own 3x3 conv after adding the previous group's output (hierarchical residual), the last
group passes through untouched and everything is concatenated before the 1x1 expansion. In the first
block of each stage ("stage" type) the groups are not chained, the 3x3 convs carry the stride and the
last group is average-pooled (3x3, same stride) instead. Plain v1 model: 7x7 stem, 1x1 conv shortcuts.
~25.70M params (the paper's 25.7M).
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from aics.zoo.registry import ZooEntry
from aics.zoo.resnet import ResNet, _shortcut


class Bottle2neck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, first: bool = False,
                 base_width: int = 26, scale: int = 4) -> None:
        super().__init__()
        width = planes * base_width // 64
        cout = planes * self.expansion
        self.width, self.first = width, first
        self.conv1 = nn.Conv2d(cin, width * scale, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width * scale)
        self.convs = nn.ModuleList(nn.Conv2d(width, width, 3, stride, 1, bias=False) for _ in range(scale - 1))
        self.bns = nn.ModuleList(nn.BatchNorm2d(width) for _ in range(scale - 1))
        self.pool = nn.AvgPool2d(3, stride, 1) if first else None
        self.conv3 = nn.Conv2d(width * scale, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(cin, cout, stride)

    def branch_norm(self) -> nn.BatchNorm2d:
        return self.bn3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        splits = torch.split(self.relu(self.bn1(self.conv1(x))), self.width, 1)
        outs = []
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            sp = splits[i] if i == 0 or self.first else outs[-1] + splits[i]
            outs.append(self.relu(bn(conv(sp))))
        outs.append(splits[-1] if self.pool is None else self.pool(splits[-1]))
        out = self.bn3(self.conv3(torch.cat(outs, 1)))
        return self.relu(out + identity)


def res2net(layers: tuple[int, ...] = (3, 4, 6, 3), base_width: int = 26, scale: int = 4, num_classes: int = 1000) -> ResNet:
    return ResNet(partial(Bottle2neck, base_width=base_width, scale=scale), layers, Bottle2neck.expansion, num_classes)


ENTRIES = [
    ZooEntry("res2net50", res2net, (1, 3, 224, 224), "Res2Net-50 26w x 4s (Gao et al. 2019); input 1x3x224x224"),
]
