"""AlexNet-family networks, one factory over a per-layer config.

* ``alexnet``: torchvision's single-tower variant (from Krizhevsky's "one weird trick", arXiv 1404.5997):
  64/192/384/256/256 channels, no LRN, AdaptiveAvgPool2d(6), dropout; 61,100,840 params at 224x224.
* ``alexnet_2gpu``: the original two-GPU layout (Krizhevsky, Sutskever & Hinton, NIPS 2012, Fig. 2 and
  Sec. 3.3-3.4): 96/256/384/384/256 channels, conv2/4/5 only see their own GPU's half (groups=2), conv3
  and the FC layers cross GPUs, LRN (k=2, n=5, alpha=1e-4, beta=0.75) after conv1 and conv2, overlapping
  3x3/2 max pooling. Input 227x227 makes the 55x55 conv1 map exact (the paper says 224).
  60,965,224 params and 724,406,816 MACs, per the hand table in anchors/model_counters.md §5.
* ``zfnet``: Zeiler & Fergus (ECCV 2014, Fig. 3): 7x7/2 conv1 of 96, 5x5/2 conv2 of 256, then
  384/384/256 3x3 convs, FC 4096-4096-1000, LRN after the first two layers. Padding 1 on conv1 and
  ceil-mode pools reproduce the figure's maps: 224 -> 110 -> 55 -> 26 -> 13 -> 13 -> 6.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import nn

from aics.zoo._common import init_cnn
from aics.zoo.registry import ZooEntry


class Conv(NamedTuple):
    out: int
    kernel: int
    stride: int = 1
    padding: int = 0
    groups: int = 1
    lrn: bool = False  # LocalResponseNorm after the ReLU
    pool: bool = False  # 3x3/2 max pool after that


class AlexNet(nn.Module):
    def __init__(
        self,
        convs: Sequence[Conv],
        num_classes: int = 1000,
        ceil_mode: bool = False,
        adaptive_pool: int | None = None,
        pool_out: int = 6,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for c in convs:
            layers += [nn.Conv2d(cin, c.out, c.kernel, c.stride, c.padding, groups=c.groups), nn.ReLU(inplace=True)]
            if c.lrn:
                layers.append(nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0))
            if c.pool:
                layers.append(nn.MaxPool2d(3, 2, ceil_mode=ceil_mode))
            cin = c.out
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(adaptive_pool) if adaptive_pool else None
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(cin * pool_out * pool_out, 4096), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )
        init_cnn(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        if self.avgpool is not None:
            x = self.avgpool(x)
        return self.classifier(torch.flatten(x, 1))


TORCHVISION = (Conv(64, 11, 4, 2, pool=True), Conv(192, 5, padding=2, pool=True), Conv(384, 3, padding=1),
               Conv(256, 3, padding=1), Conv(256, 3, padding=1, pool=True))
TWO_GPU = (Conv(96, 11, 4, lrn=True, pool=True), Conv(256, 5, padding=2, groups=2, lrn=True, pool=True),
           Conv(384, 3, padding=1), Conv(384, 3, padding=1, groups=2), Conv(256, 3, padding=1, groups=2, pool=True))
ZFNET = (Conv(96, 7, 2, 1, lrn=True, pool=True), Conv(256, 5, 2, lrn=True, pool=True), Conv(384, 3, padding=1),
         Conv(384, 3, padding=1), Conv(256, 3, padding=1, pool=True))

ENTRIES = [
    ZooEntry("alexnet", AlexNet, (1, 3, 224, 224),
             "AlexNet, torchvision single-tower variant (Krizhevsky 2014); input 1x3x224x224",
             {"convs": TORCHVISION, "adaptive_pool": 6}),
    ZooEntry("alexnet_2gpu", AlexNet, (1, 3, 227, 227),
             "AlexNet, original two-GPU layout as grouped convs, LRN (Krizhevsky et al. 2012); input 1x3x227x227",
             {"convs": TWO_GPU}),
    ZooEntry("zfnet", AlexNet, (1, 3, 224, 224), "ZFNet (Zeiler & Fergus 2014); input 1x3x224x224",
             {"convs": ZFNET, "ceil_mode": True}),
]
