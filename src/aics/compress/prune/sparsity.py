"""Unstructured magnitude sparsity on the AGP schedule (Zhu & Gupta, 2017; exercise 5.12).

Sparsity rises from ``initial`` to ``final`` over ``steps`` updates spaced ``every`` training steps
apart, starting at ``start``:  s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt))^3.
It prunes fast while many weights are redundant and slowly near the end. At each update the
smallest-magnitude weights of every layer are masked to exactly the scheduled fraction; masks are
re-applied after every optimizer step so pruned weights stay zero. Weights already zero are the
smallest, so a weight once pruned stays pruned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from aics.errors import PruneError


@dataclass(frozen=True)
class AgpSchedule:
    initial: float = 0.0
    final: float = 0.5
    start: int = 0  # t0: training step of the first update
    steps: int = 10  # n: number of updates
    every: int = 1  # dt: training steps between updates

    def __post_init__(self) -> None:
        if not (0.0 <= self.initial <= self.final < 1.0):
            raise PruneError(f"AGP needs 0 <= initial <= final < 1, got {self.initial}, {self.final}")
        if self.steps < 1 or self.every < 1 or self.start < 0:
            raise PruneError(f"AGP needs steps >= 1, every >= 1, start >= 0 (got {self.steps}, {self.every}, {self.start})")

    def at(self, step: int) -> float:
        """Target sparsity in force after training step ``step`` (updates happen on the dt grid)."""
        if step < self.start:
            return 0.0
        done = min(self.steps, (step - self.start) // self.every)
        return self.final + (self.initial - self.final) * (1.0 - done / self.steps) ** 3


def default_targets(model: nn.Module) -> dict[str, nn.Parameter]:
    """The weights sparsity applies to: every conv and linear weight."""
    return {f"{name}.weight" if name else "weight": m.weight for name, m in model.named_modules()
            if isinstance(m, (nn.Conv2d, nn.Linear, nn.ConvTranspose2d))}


class MagnitudeSparsifier:
    """Holds one mask per target weight; ``step(t)`` updates masks on the schedule and applies them."""

    def __init__(self, model: nn.Module, schedule: AgpSchedule, targets: dict[str, nn.Parameter] | None = None) -> None:
        self.schedule = schedule
        self.targets = targets if targets is not None else default_targets(model)
        self.masks = {name: torch.ones_like(p, dtype=torch.bool) for name, p in self.targets.items()}
        self.level = 0.0

    def update(self, sparsity: float) -> None:
        """Mask exactly round(sparsity * numel) smallest-magnitude weights of every target."""
        for name, p in self.targets.items():
            k = int(round(sparsity * p.numel()))
            mask = torch.ones(p.numel(), dtype=torch.bool)
            if k:
                order = torch.argsort(p.detach().abs().flatten(), stable=True)
                mask[order[:k]] = False
            self.masks[name] = mask.view_as(p)
        self.level = sparsity

    def apply(self) -> None:
        with torch.no_grad():
            for name, p in self.targets.items():
                p.mul_(self.masks[name])

    def step(self, t: int) -> float:
        """Call after training step ``t``; returns the sparsity now in force."""
        target = self.schedule.at(t)
        if not math.isclose(target, self.level):
            self.update(target)
        self.apply()
        return self.level

    def sparsity(self) -> float:
        """Measured fraction of zero weights over all targets."""
        zeros = sum(int((p.detach() == 0).sum()) for p in self.targets.values())
        return zeros / max(1, sum(p.numel() for p in self.targets.values()))
