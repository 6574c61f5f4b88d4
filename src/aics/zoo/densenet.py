"""DenseNet-BC (Huang et al., CVPR 2017, Table 1), torchvision layout.

Dense layer: BN-ReLU-1x1 conv (bn_size*k channels)-BN-ReLU-3x3 conv (k channels), its output
concatenated to its input; transitions halve the channels (BN-ReLU-1x1 conv) and the map (2x2 avg pool).
densenet121: growth k=32, blocks (6, 12, 24, 16), 64-channel 7x7 stem: 7,978,856 params, 2.834G MACs.
"""

from __future__ import annotations

import torch
from torch import nn

from aics.zoo._common import init_cnn
from aics.zoo.registry import ZooEntry


def _bn_relu_conv(cin: int, cout: int, kernel: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, cout, kernel, 1, kernel // 2, bias=False)]


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int, bn_size: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*_bn_relu_conv(cin, bn_size * growth, 1), *_bn_relu_conv(bn_size * growth, growth, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], 1)


class DenseNet(nn.Module):
    def __init__(self, growth: int = 32, blocks: tuple[int, ...] = (6, 12, 24, 16), init_features: int = 64,
                 bn_size: int = 4, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3, init_features, 7, 2, 3, bias=False), nn.BatchNorm2d(init_features), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        ]
        c = init_features
        for i, n in enumerate(blocks):
            for _ in range(n):
                layers.append(DenseLayer(c, growth, bn_size))
                c += growth
            if i < len(blocks) - 1:  # transition
                layers += [*_bn_relu_conv(c, c // 2, 1), nn.AvgPool2d(2, 2)]
                c //= 2
        layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(1)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, num_classes)
        init_cnn(self, linear_std=None)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


ENTRIES = [
    ZooEntry("densenet121", DenseNet, (1, 3, 224, 224), "DenseNet-121, k=32 (Huang et al. 2017); input 1x3x224x224"),
]
