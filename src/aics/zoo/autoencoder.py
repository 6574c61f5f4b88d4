"""The convolutional autoencoder of seeds/000_* (weekly summary, anomaly detection), layer for layer.

Encoder: three 3x3 convs (3->64->128->256) with ReLU and 2x2 max pooling, 32x32 -> 4x4.
Decoder: stride-1 transposed convs with growing kernels, 256->128 (k5, 4->8), 128->64 (k9, 8->16),
64->3 (k17, 16->32), Tanh output: the reconstruction has the input's shape, 1x3x32x32.
"""

from __future__ import annotations

import torch
from torch import nn

from aics.zoo.registry import ZooEntry


class ConvAutoencoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(3, 64, 3, stride=1, padding=1), nn.ReLU(True), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, stride=1, padding=1), nn.ReLU(True), nn.MaxPool2d(2),
            nn.Conv2d(128, 256, 3, stride=1, padding=1), nn.ReLU(True), nn.MaxPool2d(2),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(256, 128, 5, stride=1), nn.ReLU(True),
            nn.ConvTranspose2d(128, 64, 9, stride=1), nn.ReLU(True),
            nn.ConvTranspose2d(64, 3, 17, stride=1), nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


ENTRIES = [
    ZooEntry("conv_autoencoder", ConvAutoencoder, (1, 3, 32, 32),
             "convolutional autoencoder of the seeds (weekly summary); input 1x3x32x32"),
]
