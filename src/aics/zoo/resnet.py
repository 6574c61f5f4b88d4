"""ResNet (He et al., CVPR 2016, Table 1), ResNeXt (Xie et al., CVPR 2017) and SE-ResNet (Hu et al., CVPR 2018).

We follow torchvision's ResNet v1.5: a downsampling bottleneck puts its stride on the 3x3 conv, not on
the first 1x1 as the paper's Caffe model does. Same params, more MACs: resnet50 4.089G vs the paper's
3.8G (anchors/model_counters.md §4). Projection shortcuts (1x1 conv + BN) only where shape changes.
resnet18 11,689,512 params, resnet50 25,557,032, resnext50_32x4d (32 groups x 4 channels) 25,028,904.
SE-ResNet-50: a squeeze-excitation gate (reduction 16) after the last BN of each bottleneck, before the
residual add (Hu et al. Fig. 3); its two FC layers are 1x1 convs on the pooled 1x1 map (same weights).
The ``ResNet`` trunk takes any block factory: Res2Net (res2net.py) reuses it.
"""

from __future__ import annotations

from functools import partial
from typing import Callable, Sequence

import torch
from torch import nn

from aics.zoo._common import init_cnn, scale_residual_branches
from aics.zoo.registry import ZooEntry


class SqueezeExcite(nn.Module):
    """x * sigmoid(W2 relu(W1 avgpool(x)))."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))


def _shortcut(cin: int, cout: int, stride: int) -> nn.Module | None:
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, first: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _shortcut(cin, planes, stride)

    def branch_norm(self) -> nn.BatchNorm2d:
        return self.bn2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (stride, groups) -> 1x1 expand (x4) [-> SE] + shortcut -> ReLU."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, first: bool = False,
                 groups: int = 1, base_width: int = 64, se_reduction: int | None = None) -> None:
        super().__init__()
        width = int(planes * base_width / 64) * groups
        cout = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.se = SqueezeExcite(cout, se_reduction) if se_reduction else None
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(cin, cout, stride)

    def branch_norm(self) -> nn.BatchNorm2d:
        return self.bn3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.se is not None:
            out = self.se(out)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """7x7/2 stem, 3x3/2 max pool, four stages (64, 128, 256, 512 planes), global pool, FC.

    ``block(cin, planes, stride, first)`` builds one residual block; ``first`` marks a stage's first block,
    ``block.branch_norm()`` is the BN closing its residual branch (scaled at init, see _common.py).
    """

    def __init__(self, block: Callable[..., nn.Module], layers: Sequence[int], expansion: int | None = None,
                 num_classes: int = 1000) -> None:
        super().__init__()
        expansion = expansion or getattr(block, "expansion", 1)
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
            blocks = []
            for j in range(n):
                blocks.append(block(cin, planes, 2 if i > 0 and j == 0 else 1, j == 0))
                cin = planes * expansion
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)
        init_cnn(self, linear_std=None)
        scale_residual_branches([m.branch_norm() for m in self.modules() if hasattr(m, "branch_norm")])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet(depth: int, groups: int = 1, width_per_group: int = 64, se_reduction: int | None = None,
           num_classes: int = 1000) -> ResNet:
    """ResNet-``depth`` (18/34 basic blocks, 50/101/152 bottlenecks), optionally grouped (ResNeXt) or with SE."""
    layers = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}[depth]
    if depth < 50:
        return ResNet(BasicBlock, layers, num_classes=num_classes)
    block = partial(Bottleneck, groups=groups, base_width=width_per_group, se_reduction=se_reduction)
    return ResNet(block, layers, Bottleneck.expansion, num_classes)


_IN = "input 1x3x224x224"
ENTRIES = [
    *(ZooEntry(f"resnet{d}", resnet, (1, 3, 224, 224), f"ResNet-{d} (He et al. 2016), torchvision v1.5; {_IN}",
               {"depth": d}) for d in (18, 34, 50, 101, 152)),
    ZooEntry("resnext50_32x4d", resnet, (1, 3, 224, 224), f"ResNeXt-50 32x4d (Xie et al. 2017); {_IN}",
             {"depth": 50, "groups": 32, "width_per_group": 4}),
    ZooEntry("se_resnet50", resnet, (1, 3, 224, 224), f"SE-ResNet-50, reduction 16 (Hu et al. 2018); {_IN}",
             {"depth": 50, "se_reduction": 16}),
]
