"""MobileNet v1 (Howard et al. 2017, Table 1) and MobileNet v2 (Sandler et al., CVPR 2018, Table 2).

v1: a 3x3/2 conv of 32, then 13 depthwise-separable layers (3x3 depthwise + 1x1 pointwise, each
Conv-BN-ReLU), average pool, FC. The width multiplier ``alpha`` thins every layer (int(c * alpha)), the
resolution multiplier is the input ``resolution`` (the 7x7 average pool of Table 1 becomes
resolution/32). 1.0-224: 4,231,976 params, 568.7M MACs (Table 6/7: 4.2M, 569M).
v2: torchvision layout: inverted residuals (1x1 expand ReLU6, 3x3 depthwise ReLU6, 1x1 linear
projection), channels rounded to multiples of 8, 1x1 conv to 1280, dropout 0.2, FC.
3,504,872 params, 300,774,272 MACs at 224x224.
"""

from __future__ import annotations

import torch
from torch import nn

from aics.zoo._common import conv_bn, init_cnn, make_divisible, scale_residual_branches
from aics.zoo.registry import ZooEntry

# Table 1 of Howard et al.: (pointwise output channels, depthwise stride) per separable layer.
V1_LAYERS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
             (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
# Table 2 of Sandler et al.: expansion t, channels c, repeats n, first stride s.
V2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


class MobileNetV1(nn.Module):
    def __init__(self, alpha: float = 1.0, resolution: int = 224, num_classes: int = 1000) -> None:
        super().__init__()
        if resolution % 32:
            raise ValueError(f"resolution must be a multiple of 32, got {resolution}")
        cin = int(32 * alpha)
        layers: list[nn.Module] = [conv_bn(3, cin, 3, 2)]
        for cout, stride in V1_LAYERS:
            cout = int(cout * alpha)
            layers += [conv_bn(cin, cin, 3, stride, groups=cin), conv_bn(cin, cout, 1)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AvgPool2d(resolution // 32)
        self.fc = nn.Linear(cin, num_classes)
        init_cnn(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers = [conv_bn(cin, hidden, 1, act=nn.ReLU6)] if expand != 1 else []
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6), conv_bn(hidden, cout, 1, act=None)]
        self.conv = nn.Sequential(*layers)
        self.use_residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, width_mult: float = 1.0, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        cin = make_divisible(32 * width_mult)
        last = make_divisible(1280 * max(1.0, width_mult))
        layers: list[nn.Module] = [conv_bn(3, cin, 3, 2, act=nn.ReLU6)]
        for t, c, n, s in V2_SETTINGS:
            cout = make_divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        layers.append(conv_bn(cin, last, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last, num_classes))
        init_cnn(self)
        scale_residual_branches([m.conv[-1][1] for m in self.modules() if isinstance(m, InvertedResidual) and m.use_residual])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def _v1(name: str, alpha: float, resolution: int) -> ZooEntry:
    return ZooEntry(name, MobileNetV1, (1, 3, resolution, resolution),
                    f"MobileNet v1 {alpha}-{resolution} (Howard et al. 2017); input 1x3x{resolution}x{resolution}",
                    {"alpha": alpha, "resolution": resolution})


ENTRIES = [
    _v1("mobilenet_v1", 1.0, 224),
    *(_v1(f"mobilenet_v1_{round(a * 100):03d}", a, 224) for a in (0.75, 0.5, 0.25)),  # Table 6
    *(_v1(f"mobilenet_v1_{r}", 1.0, r) for r in (192, 160, 128)),  # Table 7
    ZooEntry("mobilenet_v2", MobileNetV2, (1, 3, 224, 224),
             "MobileNet v2 1.0 (Sandler et al. 2018), torchvision layout; input 1x3x224x224"),
]
