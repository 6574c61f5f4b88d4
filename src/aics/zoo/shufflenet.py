"""ShuffleNet v1 (Zhang et al., CVPR 2018, Table 1) and v2 (Ma et al., ECCV 2018, Table 5).

v1, g=3, 1x: stage outputs 240/480/960 (4/8/4 units). A unit is a grouped 1x1 conv (bottleneck = out/4;
the very first one, on the 24-channel stem, is not grouped), channel shuffle, 3x3 depthwise conv, grouped
1x1 conv; stride-1 units add the input, stride-2 units concatenate a 3x3/2 average pool of it, then ReLU
(Fig. 2). Stem, BN placement and the bias-free FC follow the authors' code (megvii-model/ShuffleNet-Series):
1,864,728 params, 137,460,672 MACs (paper: 140 MFLOPs = mult-adds; authors' repo: 1.9M, 137.5M).
v2: torchvision layout. A stride-1 unit splits the channels in two (x.chunk(2, dim=1)) and transforms
one half (1x1, 3x3 depthwise, 1x1); a stride-2 unit transforms the input on both branches; the halves are
concatenated and shuffled (view/transpose/reshape). x1_0: 2,278,604 params, 144,907,992 MACs.
``shufflenet_v2_192``: the FPGA variant of seeds/000_* (Synetgy-style): 0.5x stage widths (48/96/192),
a 512-wide conv5 that must see a 4x4 map at 192x192 input. 192/4 = 48 = 3 * 16 needs one stride-3
step: we give the stem conv stride 3 (192 -> 64, max pool -> 32, stages -> 16, 8, 4). The seed's padding
code bounds a 32x32 map, which is the stage-2 input under this choice. Its conv5 has bias + ReLU; ours
keeps torchvision's Conv-BN-ReLU, the same layer once BN is folded.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from aics.zoo._common import channel_shuffle, conv_bn, init_cnn, scale_residual_branches
from aics.zoo.registry import ZooEntry


class ShuffleV1Unit(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, groups: int, first_group: bool) -> None:
        super().__init__()
        mid = cout // 4
        branch_out = cout - cin if stride == 2 else cout
        self.groups = groups
        self.compress = conv_bn(cin, mid, 1, groups=1 if first_group else groups)
        self.expand = nn.Sequential(
            conv_bn(mid, mid, 3, stride, groups=mid, act=None), conv_bn(mid, branch_out, 1, groups=groups, act=None)
        )
        self.shortcut = nn.AvgPool2d(3, 2, 1) if stride == 2 else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand(channel_shuffle(self.compress(x), self.groups))
        if self.shortcut is None:
            return self.relu(out + x)
        return self.relu(torch.cat([self.shortcut(x), out], 1))


class ShuffleNetV1(nn.Module):
    def __init__(self, groups: int = 3, stage_channels: Sequence[int] = (240, 480, 960), repeats: Sequence[int] = (4, 8, 4),
                 stem: int = 24, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn(3, stem, 3, 2), nn.MaxPool2d(3, 2, 1)]
        cin = stem
        for i, (cout, n) in enumerate(zip(stage_channels, repeats)):
            for j in range(n):
                layers.append(ShuffleV1Unit(cin, cout, 2 if j == 0 else 1, groups, first_group=i == 0 and j == 0))
                cin = cout
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes, bias=False)
        init_cnn(self)
        scale_residual_branches([m.expand[-1][1] for m in self.modules() if isinstance(m, ShuffleV1Unit) and m.shortcut is None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


class ShuffleV2Unit(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        half = cout // 2
        self.stride = stride
        if stride > 1:
            self.branch1 = nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin, act=None), conv_bn(cin, half, 1))
        self.branch2 = nn.Sequential(
            conv_bn(cin if stride > 1 else half, half, 1),
            conv_bn(half, half, 3, stride, groups=half, act=None),
            conv_bn(half, half, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat([x1, self.branch2(x2)], 1)
        else:
            out = torch.cat([self.branch1(x), self.branch2(x)], 1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """``stage_channels``: stem, stage 2, 3, 4 outputs; ``conv5``: the last 1x1 conv's width."""

    def __init__(self, stage_channels: Sequence[int] = (24, 116, 232, 464), conv5: int = 1024,
                 repeats: Sequence[int] = (4, 8, 4), stem_stride: int = 2, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = conv_bn(3, stage_channels[0], 3, stem_stride)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = stage_channels[0]
        for i, (cout, n) in enumerate(zip(stage_channels[1:], repeats)):
            units = [ShuffleV2Unit(cin if j == 0 else cout, cout, 2 if j == 0 else 1) for j in range(n)]
            self.add_module(f"stage{i + 2}", nn.Sequential(*units))
            cin = cout
        self.conv5 = conv_bn(cin, conv5, 1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(conv5, num_classes)
        init_cnn(self, linear_std=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


V2_WIDTHS = {  # Table 5: stage 2-4 outputs and conv5 per width
    "x0_5": ((24, 48, 96, 192), 1024),
    "x1_0": ((24, 116, 232, 464), 1024),
    "x1_5": ((24, 176, 352, 704), 1024),
    "x2_0": ((24, 244, 488, 976), 2048),
}

ENTRIES = [
    ZooEntry("shufflenet_v1_g3", ShuffleNetV1, (1, 3, 224, 224),
             "ShuffleNet v1 1x, g=3 (Zhang et al. 2018); input 1x3x224x224"),
    *(ZooEntry(f"shufflenet_v2_{w}", ShuffleNetV2, (1, 3, 224, 224),
               f"ShuffleNet v2 {w[1:].replace('_', '.')}x (Ma et al. 2018), torchvision layout; input 1x3x224x224",
               {"stage_channels": ch, "conv5": c5}) for w, (ch, c5) in V2_WIDTHS.items()),
    ZooEntry("shufflenet_v2_192", ShuffleNetV2, (1, 3, 192, 192),
             "ShuffleNet v2 0.5x FPGA variant of the seeds: stride-3 stem, 4x4 conv5 of 512; input 1x3x192x192",
             {"stage_channels": (24, 48, 96, 192), "conv5": 512, "stem_stride": 3}),
]
