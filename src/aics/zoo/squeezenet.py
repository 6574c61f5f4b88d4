"""SqueezeNet 1.0 (Iandola et al. 2016, Table 1) and 1.1 (the authors' repo), torchvision layout.

Fire module: 1x1 squeeze (ReLU), then 1x1 and 3x3 expands (ReLU) concatenated. The two versions share
the eight fire modules and differ in the stem (96 7x7/2 vs 64 3x3/2) and where the three ceil-mode
3x3/2 max pools sit. Classifier: dropout, 1x1 conv to the classes, ReLU, global average pool.
1,248,424 and 1,235,496 params.
"""

from __future__ import annotations

import torch
from torch import nn

from aics.zoo.registry import ZooEntry

FIRES = ((16, 64), (16, 64), (32, 128), (32, 128), (48, 192), (48, 192), (64, 256), (64, 256))
VERSIONS = {  # stem (channels, kernel), fire indices followed by a max pool
    "1_0": ((96, 7), (2, 6)),
    "1_1": ((64, 3), (1, 3)),
}


class Fire(nn.Module):
    def __init__(self, cin: int, squeeze: int, expand: int) -> None:
        super().__init__()
        self.squeeze = nn.Sequential(nn.Conv2d(cin, squeeze, 1), nn.ReLU(inplace=True))
        self.expand1x1 = nn.Sequential(nn.Conv2d(squeeze, expand, 1), nn.ReLU(inplace=True))
        self.expand3x3 = nn.Sequential(nn.Conv2d(squeeze, expand, 3, padding=1), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze(x)
        return torch.cat([self.expand1x1(x), self.expand3x3(x)], 1)


class SqueezeNet(nn.Module):
    def __init__(self, version: str = "1_0", num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        (stem, kernel), pools_after = VERSIONS[version]
        layers: list[nn.Module] = [nn.Conv2d(3, stem, kernel, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, ceil_mode=True)]
        cin = stem
        for i, (squeeze, expand) in enumerate(FIRES):
            layers.append(Fire(cin, squeeze, expand))
            cin = 2 * expand
            if i in pools_after:
                layers.append(nn.MaxPool2d(3, 2, ceil_mode=True))
        self.features = nn.Sequential(*layers)
        final = nn.Conv2d(cin, num_classes, 1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), final, nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1))
        for m in self.modules():  # torchvision: Kaiming-uniform convs, N(0, 0.01) for the final conv
            if isinstance(m, nn.Conv2d):
                if m is final:
                    nn.init.normal_(m.weight, 0.0, 0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


ENTRIES = [
    ZooEntry(f"squeezenet{v}", SqueezeNet, (1, 3, 224, 224),
             f"SqueezeNet {v.replace('_', '.')} (Iandola et al. 2016), torchvision layout; input 1x3x224x224",
             {"version": v})
    for v in VERSIONS
]
