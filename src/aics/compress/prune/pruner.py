"""Prune a model in one shot or iteratively (prune k% -> fine-tune -> repeat), under a budget.

``prune`` scores every group with an ``Importance``, chooses classes (select.py), records the plan
and applies it. ``prune_iterative`` spreads the same budget over several steps with a fine-tune
callback between them and returns one plan composed over all steps, relative to the original model,
so a fresh model replays the whole schedule in one ``apply_plan``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

from torch import nn

from aics.analysis.analyze import analyze
from aics.compress.prune.apply import apply_removal, plan_for, pruned_graph, removed_for_keeps
from aics.compress.prune.dependency import DependencyGraph
from aics.errors import PruneError
from aics.compress.prune.importance import Importance
from aics.compress.prune.latency import GraphLatencyModel, LatencyModel
from aics.compress.prune.plan import PrunePlan
from aics.compress.prune.select import Budget, Unreachable, choose


@dataclass(frozen=True)
class PruneResult:
    model: nn.Module
    plan: PrunePlan
    macs_before: int
    macs_after: int
    params_before: int
    params_after: int


def _cost_fn(dep: DependencyGraph, budget: Budget, latency: LatencyModel | None) -> Callable[[set[int]], float]:
    if budget.macs is not None:
        return lambda removed: float(analyze(pruned_graph(dep, removed)).total.macs)
    if latency is None:
        raise PruneError("a latency target needs a latency model (--arch)")
    return removal_latency(dep, latency)


def removal_latency(dep: DependencyGraph, latency: LatencyModel) -> Callable[[set[int]], float]:
    """Latency (ms) of the model with the given channel classes removed, under ``latency``."""
    if isinstance(latency, GraphLatencyModel):
        return lambda removed: latency.graph_latency_ms(pruned_graph(dep, removed))

    def measured(removed: set[int]) -> float:
        trial = DependencyGraph.build(copy.deepcopy(dep.model), dep.input_shape)
        return latency.latency_ms(apply_removal(trial.model, trial, removed, verify=False), dep.input_shape)
    return measured


def prune_step(model: nn.Module, input_shape: tuple[int, ...], importance: Importance, budget: Budget,
               scope: str = "local", min_keep: float = 0.1, latency: LatencyModel | None = None,
               base_macs: int | None = None, input_dtype: str = "float32") -> PruneResult:
    """One-shot pruning of a copy of ``model``. A MAC budget is a fraction of ``base_macs`` (the
    unpruned model's, default: this model's), a latency budget is absolute milliseconds."""
    dep = DependencyGraph.build(copy.deepcopy(model), tuple(input_shape), input_dtype)
    before = analyze(dep.graph).total
    importance.prepare(dep)
    scores = {g.index: importance(g) for g in dep.groups}
    target = None
    if budget.macs is not None:
        target = budget.macs * (base_macs or before.macs)
    elif budget.latency_ms is not None:
        target = budget.latency_ms
    cost = None if budget.ratio is not None else _cost_fn(dep, budget, latency)
    try:
        removed = choose(dep, scores, budget, scope, min_keep, cost, target)
    except Unreachable as err:
        if budget.macs is not None:
            base = base_macs or before.macs
            raise PruneError(f"MAC target {budget.macs:.3g} cannot be reached: with every layer keeping at least "
                             f"{min_keep:.3g} of its channels the model keeps {err.best / base:.3g} of its MACs") from None
        raise PruneError(f"latency target {err.target:.4g} ms cannot be reached: with every layer keeping at least "
                         f"{min_keep:.3g} of its channels the model takes {err.best:.4g} ms") from None
    plan = plan_for(dep, removed)
    after = analyze(pruned_graph(dep, removed)).total
    pruned = apply_removal(dep.model, dep, removed)
    return PruneResult(pruned, plan, before.macs, after.macs, before.params, after.params)


def prune_iterative(model: nn.Module, input_shape: tuple[int, ...], importance: Callable[[], Importance],
                    budget: Budget, steps: int, finetune: Callable[[nn.Module, int], None] | None = None,
                    scope: str = "local", min_keep: float = 0.1, latency: LatencyModel | None = None,
                    input_dtype: str = "float32") -> PruneResult:
    """``steps`` prune steps reaching ``budget`` at the last one; ``finetune(model, step)`` runs after
    every step but the last (the caller fine-tunes the final model with its full budget)."""
    if steps < 1:
        raise PruneError(f"iterative pruning needs at least one step, got {steps}")
    original = DependencyGraph.build(copy.deepcopy(model), tuple(input_shape), input_dtype)
    before = analyze(original.graph).total
    lat0 = None
    if budget.latency_ms is not None:
        if latency is None:
            raise PruneError("a latency target needs a latency model (--arch)")
        lat0 = latency.latency_ms(model, tuple(input_shape))
    current, keeps = model, None
    for step in range(1, steps + 1):
        frac = step / steps
        if budget.ratio is not None:
            b = Budget(ratio=1 - (1 - budget.ratio) ** (1 / steps))
        elif budget.macs is not None:
            b = Budget(macs=1 - (1 - budget.macs) * frac)
        else:
            assert lat0 is not None and budget.latency_ms is not None
            b = Budget(latency_ms=lat0 - (lat0 - budget.latency_ms) * frac)
        res = prune_step(current, input_shape, importance(), b, scope, min_keep, latency, before.macs, input_dtype)
        current = res.model
        keeps = merge_keeps(keeps, res.plan)
        if finetune is not None and step < steps:
            finetune(current, step)
    assert keeps is not None
    removed = removed_for_keeps(original, {k: v[0] for k, v in keeps.items()}, {k: v[1] for k, v in keeps.items()})
    after = analyze(pruned_graph(original, removed)).total
    return PruneResult(current, plan_for(original, removed), before.macs, after.macs, before.params, after.params)


def merge_keeps(keeps: dict | None, plan: PrunePlan) -> dict:
    """Fold one step's kept indices into the running (original indices, original size) map."""
    keeps = dict(keeps or {})
    for key, keep in plan.keeps().items():
        base, size = keeps.get(key, (tuple(range(plan.sizes()[key])), plan.sizes()[key]))
        keeps[key] = (tuple(base[i] for i in keep), size)
    return keeps
