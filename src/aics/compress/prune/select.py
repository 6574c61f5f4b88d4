"""Choosing which classes to remove: local or global ranking under a ratio, MAC or latency budget.

Every group's classes are ordered by score (lowest first), skipping blocked classes and any whose
removal would leave a layer (a producer's output, a split part) under its minimum width. Local
ranking removes the same fraction of every group; global ranking merges the groups' orders by
*normalised* score (each group's scores divided by their mean), so one layer with small raw scores
cannot be emptied. The minimum width guards the known failure of global Taylor ranking on a
converged network (Torch-Pruning cuts a 128-channel conv to 6 and accuracy collapses).
MAC and latency budgets search the shortest prefix of that order that meets the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from aics.compress.prune.dependency import DependencyGraph
from aics.errors import PruneError

SCOPES = ("local", "global")


@dataclass(frozen=True)
class Budget:
    """Exactly one of: ``ratio`` of prunable channels to remove, ``macs`` fraction of the original
    MACs to keep, or ``latency_ms`` to reach (with a latency model)."""

    ratio: float | None = None
    macs: float | None = None
    latency_ms: float | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.ratio, self.macs, self.latency_ms) if v is not None]
        if len(given) != 1:
            raise PruneError("give exactly one budget: a channel ratio, a MAC fraction or a latency")
        if self.ratio is not None and not 0.0 <= self.ratio < 1.0:
            raise PruneError(f"channel ratio must be in [0, 1), got {self.ratio}")
        if self.macs is not None and not 0.0 < self.macs <= 1.0:
            raise PruneError(f"MAC target must be a fraction in (0, 1], got {self.macs}")
        if self.latency_ms is not None and self.latency_ms <= 0:
            raise PruneError(f"latency target must be positive, got {self.latency_ms} ms")


def feasible_order(dep: DependencyGraph, gi: int, scores: np.ndarray, min_keep: float) -> list[int]:
    """Group ``gi``'s classes in removal order, stopping at each layer's minimum width."""
    g = dep.groups[gi]
    segs = [s for s in dep.segments if s.group == gi]
    left = [len(s.classes) for s in segs]
    floor = [max(1, math.ceil(min_keep * len(s.classes))) if s.kind == "producer" else 1 for s in segs]
    member_of: dict[int, list[int]] = {}
    for k, s in enumerate(segs):
        for c in s.classes.tolist():
            member_of.setdefault(c, []).append(k)
    order = []
    for c in np.lexsort((np.arange(g.size), scores)).tolist():
        if g.blocked[c] or any(left[k] - 1 < floor[k] for k in member_of.get(c, [])):
            continue
        for k in member_of.get(c, []):
            left[k] -= 1
        order.append(c)
    if len(order) == g.size:  # a group with no segment must still keep one class
        order.pop()
    return order


def _normalised(scores: np.ndarray, blocked: np.ndarray) -> np.ndarray:
    live = scores[~blocked]
    mean = float(np.mean(live)) if live.size else 0.0
    return scores / mean if mean > 0 else np.zeros_like(scores)


def removal_sequence(dep: DependencyGraph, scores: Mapping[int, np.ndarray], scope: str, min_keep: float
                     ) -> list[tuple[int, int]] | list[list[int]]:
    """Global: one list of (group, class). Local: per-group lists (index = group)."""
    orders = [feasible_order(dep, g.index, np.asarray(scores[g.index], dtype=float), min_keep) for g in dep.groups]
    if scope == "local":
        return orders
    if scope != "global":
        raise PruneError(f"unknown ranking scope '{scope}' (choose from {', '.join(SCOPES)})")
    items = []
    for g, order in zip(dep.groups, orders):
        norm = _normalised(np.asarray(scores[g.index], dtype=float), g.blocked)
        items += [(float(norm[c]), g.index, rank, c) for rank, c in enumerate(order)]
    items.sort(key=lambda t: (t[0], t[1], t[2]))
    return [(gi, c) for _, gi, _, c in items]


def _roots(dep: DependencyGraph, pairs: list[tuple[int, int]]) -> set[int]:
    return {dep.class_root[p] for p in pairs}


def _local_prefix(dep: DependencyGraph, orders: list[list[int]], ratio: float) -> set[int]:
    pairs = []
    for g, order in zip(dep.groups, orders):
        k = min(len(order), int(math.floor(ratio * g.prunable + 1e-9)))
        pairs += [(g.index, c) for c in order[:k]]
    return _roots(dep, pairs)


def choose(dep: DependencyGraph, scores: Mapping[int, np.ndarray], budget: Budget, scope: str = "local",
           min_keep: float = 0.1, cost: Callable[[set[int]], float] | None = None, target: float | None = None
           ) -> set[int]:
    """Roots of the classes to remove. ``cost(removed) -> float`` and ``target`` (absolute, e.g.
    MACs or ms) drive MAC/latency budgets; a ratio budget needs neither."""
    seq = removal_sequence(dep, scores, scope, min_keep)
    if budget.ratio is not None:
        if scope == "local":
            return _local_prefix(dep, seq, budget.ratio)  # type: ignore[arg-type]
        k = int(math.floor(budget.ratio * dep.prunable + 1e-9))
        return _roots(dep, seq[:k])  # type: ignore[arg-type]
    assert cost is not None and target is not None
    if scope == "local":
        def at(r: float) -> set[int]:
            return _local_prefix(dep, seq, r)  # type: ignore[arg-type]
        lo, hi = 0.0, 1.0
        if cost(at(0.0)) <= target:
            return set()
        if cost(at(hi)) > target:
            raise _unreachable(cost(at(hi)), target)
        for _ in range(30):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if cost(at(mid)) <= target else (mid, hi)
        return at(hi)
    pairs: list[tuple[int, int]] = seq  # type: ignore[assignment]
    if cost(set()) <= target:
        return set()
    if cost(_roots(dep, pairs)) > target:
        raise _unreachable(cost(_roots(dep, pairs)), target)
    lo, hi = 0, len(pairs)  # cost(prefix lo) > target >= cost(prefix hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if cost(_roots(dep, pairs[:mid])) <= target else (mid, hi)
    return _roots(dep, pairs[:hi])


class Unreachable(PruneError):
    """The budget is below what removing every allowed channel achieves."""

    def __init__(self, best: float, target: float) -> None:
        self.best, self.target = best, target
        super().__init__(f"target {target:.6g} cannot be reached: pruning every allowed channel still gives "
                         f"{best:.6g} (lower the minimum width or raise the target)")


def _unreachable(best: float, target: float) -> Unreachable:
    return Unreachable(best, target)
