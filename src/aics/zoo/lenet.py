"""LeNet-5 as usually re-implemented in PyTorch (LeCun et al. 1998, Proc. IEEE, Fig. 2).

We follow the common modern form, not the 1998 one: a fully connected C3 (the paper's partial connection
table has 1,516 params, ours 2,416), max pooling instead of trainable subsampling, ReLU, and a Linear
output instead of the RBF layer. 61,706 params and 416,520 MACs at 1x1x32x32
(anchors/model_counters.md §5).
"""

from __future__ import annotations

import torch
from torch import nn

from aics.zoo.registry import ZooEntry


class LeNet5(nn.Module):
    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5), nn.ReLU(), nn.MaxPool2d(2),  # C1, S2
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),  # C3, S4
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(),  # C5
            nn.Linear(120, 84), nn.ReLU(),  # F6
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


ENTRIES = [
    ZooEntry("lenet5", LeNet5, (1, 1, 32, 32), "LeNet-5 (LeCun et al. 1998), PyTorch form; input 1x1x32x32"),
]
