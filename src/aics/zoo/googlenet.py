"""GoogLeNet / Inception v1 (Szegedy et al., CVPR 2015, Table 1), torchvision variant.

Where we follow torchvision instead of the paper: every conv is Conv-BN(eps=1e-3)-ReLU, the "5x5" branch
uses a 3x3 kernel (torchvision keeps it for weight compatibility; ``branch3_kernel=5`` restores the
paper's 5x5), max pools use ceil_mode=True, dropout is 0.2 and the two auxiliary heads are not built
(they never run at inference and the paper's count leaves them out).
6,624,904 params, 1,498,376,192 MACs at 224x224.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from aics.zoo._common import conv_bn, init_cnn
from aics.zoo.registry import ZooEntry

# Table 1 per module: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


def _conv(cin: int, cout: int, kernel: int = 1, stride: int = 1) -> nn.Sequential:
    return conv_bn(cin, cout, kernel, stride, eps=1e-3)


class Inception(nn.Module):
    def __init__(self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, proj: int, branch3_kernel: int = 3) -> None:
        super().__init__()
        self.branch1 = _conv(cin, c1)
        self.branch2 = nn.Sequential(_conv(cin, c3r), _conv(c3r, c3, 3))
        self.branch3 = nn.Sequential(_conv(cin, c5r), _conv(c5r, c5, branch3_kernel))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), _conv(cin, proj))
        self.out_channels = c1 + c3 + c5 + proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class GoogLeNet(nn.Module):
    def __init__(self, num_classes: int = 1000, branch3_kernel: int = 3, dropout: float = 0.2) -> None:
        super().__init__()
        layers: dict[str, nn.Module] = {
            "conv1": _conv(3, 64, 7, 2), "maxpool1": nn.MaxPool2d(3, 2, ceil_mode=True),
            "conv2": _conv(64, 64), "conv3": _conv(64, 192, 3), "maxpool2": nn.MaxPool2d(3, 2, ceil_mode=True),
        }
        cin = 192
        for name, cfg in INCEPTION.items():
            block = layers[f"inception{name}"] = Inception(cin, *cfg, branch3_kernel=branch3_kernel)
            cin = block.out_channels
            if name == "3b":
                layers["maxpool3"] = nn.MaxPool2d(3, 2, ceil_mode=True)
            elif name == "4e":
                layers["maxpool4"] = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.features = nn.Sequential(OrderedDict(layers))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, num_classes)
        init_cnn(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.fc(self.dropout(x))


ENTRIES = [
    ZooEntry("googlenet", GoogLeNet, (1, 3, 224, 224),
             "GoogLeNet / Inception v1 (Szegedy et al. 2015), torchvision variant; input 1x3x224x224"),
]
