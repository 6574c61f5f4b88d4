"""VGG (Simonyan & Zisserman, ICLR 2015, Table 1 configs A/B/D/E), torchvision layout.

3x3 convs (padding 1) in five stages closed by 2x2 max pools, optional BatchNorm after each conv
(the ``_bn`` variants, not in the paper), AdaptiveAvgPool2d(7) and the 4096-4096-classes head with dropout.
vgg16: 138,357,544 params, 15,470,264,320 MACs at 224x224 (conv + FC; the paper's 15.3G is conv only).
"""

from __future__ import annotations

import torch
from torch import nn

from aics.zoo._common import init_cnn
from aics.zoo.registry import ZooEntry

STAGE_WIDTHS = (64, 128, 256, 512, 512)
DEPTHS = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}


class VGG(nn.Module):
    def __init__(self, depth: int = 16, batch_norm: bool = False, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for width, n in zip(STAGE_WIDTHS, DEPTHS[depth]):
            for _ in range(n):
                layers.append(nn.Conv2d(cin, width, 3, padding=1))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(width))
                layers.append(nn.ReLU(inplace=True))
                cin = width
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(7)
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )
        init_cnn(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


_CONFIG = {11: "A", 16: "D", 19: "E"}
ENTRIES = [
    ZooEntry(f"vgg{d}{'_bn' if bn else ''}", VGG, (1, 3, 224, 224),
             f"VGG-{d} (config {_CONFIG[d]}, Simonyan & Zisserman 2015){' with BatchNorm' if bn else ''}; input 1x3x224x224",
             {"depth": d, "batch_norm": bn})
    for bn in (False, True) for d in (11, 16, 19)
]
