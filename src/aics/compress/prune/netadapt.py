"""NetAdapt (Yang et al., ECCV 2018): platform-aware pruning driven by measured latency.

Each iteration asks for a latency drop ``dR`` (shrinking by ``decay`` per iteration). For every
group ("layer") it proposes the fewest channel removals, lowest importance first, that reach
``latency - dR`` on the latency model; each proposal gets a short fine-tune and is scored on held-out
data; the most accurate proposal wins and is measured with ``latency.latency_ms`` (for the DLP, a
direct simulation), so the stop test is on measured latency, not on the estimate that ranked it.
Iterations stop at the target latency; the caller then runs the long fine-tune. The latency model
is pluggable (``latency.LatencyModel``): ``dlp_latency.SimulatedLatency`` (the simulator's lookup
table for an arch) or ``MacProxyLatency`` when no arch is given.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

from torch import nn

from aics.compress.prune.apply import apply_removal, plan_for, removed_for_keeps
from aics.compress.prune.dependency import DependencyGraph
from aics.errors import PruneError
from aics.compress.prune.importance import Importance, L2
from aics.compress.prune.latency import LatencyModel
from aics.compress.prune.plan import PrunePlan
from aics.compress.prune.pruner import merge_keeps, removal_latency
from aics.compress.prune.select import feasible_order


@dataclass(frozen=True)
class NetAdaptStep:
    iteration: int
    group: str
    removed: int
    latency_ms: float
    accuracy: float


@dataclass(frozen=True)
class NetAdaptResult:
    model: nn.Module
    plan: PrunePlan
    latency_before_ms: float
    latency_after_ms: float
    history: tuple[NetAdaptStep, ...]


def netadapt(model: nn.Module, input_shape: tuple[int, ...], latency: LatencyModel, target_ms: float,
             evaluate: Callable[[nn.Module], float], short_finetune: Callable[[nn.Module], None] | None = None,
             importance: Callable[[], Importance] = L2, reduction: float = 0.1, decay: float = 0.96,
             min_keep: float = 0.1, max_iterations: int = 50) -> NetAdaptResult:
    """Prune until ``latency.latency_ms(model) <= target_ms``; ``reduction`` is the first
    iteration's latency drop as a fraction of the starting latency."""
    shape = tuple(input_shape)
    original = DependencyGraph.build(copy.deepcopy(model), shape)
    start = current_lat = latency.latency_ms(model, shape)
    if target_ms >= start:
        raise PruneError(f"latency target {target_ms:.4g} ms is not below the model's {start:.4g} ms")
    step_ms, current, keeps, history = reduction * start, model, None, []
    for it in range(1, max_iterations + 1):
        if current_lat <= target_ms:
            break
        goal = max(target_ms, current_lat - step_ms)
        dep = DependencyGraph.build(copy.deepcopy(current), shape)
        imp = importance()
        imp.prepare(dep)
        cost = removal_latency(dep, latency)
        best = None
        for g in dep.groups:
            order = feasible_order(dep, g.index, imp(g), min_keep)
            pick = _fewest(dep, g.index, order, cost, goal)
            if pick is None:
                continue
            trial = DependencyGraph.build(copy.deepcopy(current), shape)
            plan = plan_for(trial, pick)
            candidate = apply_removal(trial.model, trial, pick)
            if short_finetune is not None:
                short_finetune(candidate)
            acc = evaluate(candidate)
            lat = cost(pick)
            if best is None or (acc, -lat) > (best[0], -best[1]):
                best = (acc, lat, candidate, plan, g.name, plan.removed)
        if best is None:
            raise PruneError(f"NetAdapt stopped at {current_lat:.4g} ms: no layer can be thinned further "
                             f"(target {target_ms:.4g} ms)")
        acc, _, current, plan, name, removed = best
        current_lat = latency.latency_ms(current, shape)  # the accepted proposal, measured (not estimated)
        keeps = merge_keeps(keeps, plan)
        history.append(NetAdaptStep(it, name, int(removed), float(current_lat), float(acc)))
        step_ms *= decay
    if current_lat > target_ms or keeps is None:
        raise PruneError(f"NetAdapt reached {current_lat:.4g} ms after {max_iterations} iterations "
                         f"(target {target_ms:.4g} ms)")
    removed = removed_for_keeps(original, {k: v[0] for k, v in keeps.items()}, {k: v[1] for k, v in keeps.items()})
    return NetAdaptResult(current, plan_for(original, removed), start, float(current_lat), tuple(history))


def _fewest(dep: DependencyGraph, gi: int, order: list[int], cost: Callable[[set[int]], float],
            goal: float) -> set[int] | None:
    """The shortest prefix of ``order`` whose removal brings latency to ``goal`` (None if none)."""
    def roots(k: int) -> set[int]:
        return {dep.class_root[(gi, c)] for c in order[:k]}
    if not order or cost(roots(len(order))) > goal:
        return None
    lo, hi = 0, len(order)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if cost(roots(mid)) <= goal else (mid, hi)
    return roots(hi)
