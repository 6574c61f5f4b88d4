"""Distillation losses as small modules.

* ``KDLoss`` (Hinton et al. 2015): alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y).
  The T^2 keeps the soft term's gradients on the scale of the hard term when T changes.
* ``AttentionTransfer`` (Zagoruyko & Komodakis, ICLR 2017): a feature map's spatial attention is
  the channel mean of |F|^p, flattened and L2-normalised; the loss is beta/2 * mean squared
  difference of student and teacher maps, summed over the chosen layers (the authors' code, p=2,
  beta=1000). Channel counts may differ (a pruned student); spatial sizes must match, else the
  larger map is average-pooled to the smaller.
* ``FeatureMimic`` (seeds/004: "transfer layer"): a learned 1x1 conv maps the student's features to
  the teacher's channel count and the loss is the MSE between them. The adapter is what lets a
  thinner student imitate a wider teacher without forcing its own channels to match.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class KDLoss(nn.Module):
    def __init__(self, temperature: float = 4.0, alpha: float = 0.9) -> None:
        super().__init__()
        self.temperature, self.alpha = temperature, alpha

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        t = self.temperature
        soft = F.kl_div(F.log_softmax(student / t, dim=-1), F.softmax(teacher.detach() / t, dim=-1),
                        reduction="batchmean") * t * t
        return self.alpha * soft + (1 - self.alpha) * F.cross_entropy(student, labels)


def attention_map(feature: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """(N, C, H, W) -> (N, H*W): channel mean of |F|^p, L2-normalised per example."""
    return F.normalize(feature.abs().pow(p).mean(1).flatten(1), dim=1)


def _match(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if a.shape[2:] == b.shape[2:]:
        return a, b
    size = tuple(min(x, y) for x, y in zip(a.shape[2:], b.shape[2:]))
    return F.adaptive_avg_pool2d(a, size), F.adaptive_avg_pool2d(b, size)


class AttentionTransfer(nn.Module):
    def __init__(self, beta: float = 1000.0, p: float = 2.0) -> None:
        super().__init__()
        self.beta, self.p = beta, p

    def forward(self, student: list[torch.Tensor], teacher: list[torch.Tensor]) -> torch.Tensor:
        total = student[0].new_zeros(())
        for s, t in zip(student, teacher):
            s, t = _match(s, t.detach())
            total = total + (attention_map(s, self.p) - attention_map(t, self.p)).pow(2).mean()
        return self.beta / 2 * total


class FeatureMimic(nn.Module):
    """One 1x1 conv adapter per layer: student channels -> teacher channels."""

    def __init__(self, student_channels: list[int], teacher_channels: list[int]) -> None:
        super().__init__()
        self.adapters = nn.ModuleList(nn.Conv2d(s, t, 1, bias=False) for s, t in zip(student_channels, teacher_channels))

    def forward(self, student: list[torch.Tensor], teacher: list[torch.Tensor]) -> torch.Tensor:
        total = student[0].new_zeros(())
        for adapter, s, t in zip(self.adapters, student, teacher):
            s, t = _match(adapter(s), t.detach())
            total = total + F.mse_loss(s, t)
        return total
