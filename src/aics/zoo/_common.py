"""Building blocks shared by the zoo's CNNs: conv-BN-activation, channel shuffle, channel rounding, random init."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def conv_bn(
    cin: int,
    cout: int,
    kernel: int = 1,
    stride: int = 1,
    groups: int = 1,
    act: Callable[[], nn.Module] | None = nn.ReLU,
    eps: float = 1e-5,
) -> nn.Sequential:
    """Conv2d (no bias, 'same' padding for odd kernels) -> BatchNorm2d -> optional activation."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout, eps=eps),
    ]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle: (N, g*c, H, W) -> view (N, g, c, H, W) -> transpose -> back."""
    n, c, h, w = x.shape
    x = x.view(n, groups, c // groups, h, w).transpose(1, 2)
    return x.reshape(n, c, h, w)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a scaled channel count as MobileNet v2 / torchvision do (never drop more than 10%)."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


def scale_residual_branches(norms: list[nn.BatchNorm2d]) -> None:
    """Set the last BN scale of each of the L residual branches to 1/sqrt(L), so the variance of a random
    network grows by a bounded factor over depth instead of doubling per block (cf. Fixup, SkipInit)."""
    for bn in norms:
        nn.init.constant_(bn.weight, len(norms) ** -0.5)


def init_cnn(model: nn.Module, linear_std: float | None = 0.01) -> nn.Module:
    """Random init that keeps activations near unit scale: Kaiming-normal convs, BN 1/0, Linear N(0, std).

    Unlike torchvision (Kaiming fan_out, ReLU gain everywhere) we use fan_in, which is (in/groups)*k*k and so
    right for depthwise convs, and gain 1 for a conv that a Sequential does not follow by ReLU/ReLU6 within
    two layers (linear bottlenecks, depthwise convs of MobileNet v2 / ShuffleNet). With BN in eval mode
    (running stats 0/1) nothing else rescales a random network: fan_out shrinks MobileNet v1 to ~1e-18 and
    blows DenseNet up to ~1e6. ``linear_std=None`` keeps PyTorch's default Linear init.
    The counts do not depend on the init.
    """
    unrectified = set()
    for seq in model.modules():
        if isinstance(seq, nn.Sequential):
            layers = list(seq)
            for i, m in enumerate(layers):
                if isinstance(m, nn.Conv2d) and not any(isinstance(n, (nn.ReLU, nn.ReLU6)) for n in layers[i + 1 : i + 3]):
                    unrectified.add(m)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            gain = "linear" if m in unrectified else "relu"
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and linear_std is not None:
            nn.init.normal_(m.weight, 0.0, linear_std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model
