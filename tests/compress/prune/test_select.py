"""Budgets and ranking: local ratios, global ranking with per-layer normalisation and minimum
widths, MAC targets, unreachable targets, iterative schedules whose composed plan replays."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aics import zoo
from aics.analysis.analyze import analyze
from aics.compress.prune import L1, Budget, DependencyGraph, PruneError, apply_plan, prune_iterative, prune_step
from aics.compress.prune.apply import pruned_graph
from aics.compress.prune.select import choose
from aics.ir.torch_import import import_module

from .helpers import randomize_bn

SHAPE = (1, 1, 16, 16)


def _dep() -> DependencyGraph:
    torch.manual_seed(0)
    return DependencyGraph.build(randomize_bn(zoo.get("digits_resnet").build()), SHAPE)


def _widths(dep: DependencyGraph, removed: set[int]) -> list[int]:
    g = pruned_graph(dep, removed)
    return [g[n].shape[1] for n in ("stem.0", "down1.0", "res_a.0", "res_b.0", "down2.0")]


def test_local_ratio_removes_the_same_fraction_of_every_layer() -> None:
    dep = _dep()
    scores = {g.index: L1()(g) for g in dep.groups}
    assert _widths(dep, choose(dep, scores, Budget(ratio=0.5), "local")) == [16, 32, 32, 32, 64]


def test_global_ranking_normalises_per_layer_and_keeps_a_minimum_width() -> None:
    dep = _dep()
    # scores of one layer 1000x smaller than all others: raw global ranking would empty it
    scores = {g.index: L1()(g) * (1e-3 if g.name == "down2.0" else 1.0) for g in dep.groups}
    removed = choose(dep, scores, Budget(ratio=0.5), "global")
    widths = _widths(dep, removed)
    assert widths[4] >= 64 * 0.25, widths  # normalisation: the scaled layer is not singled out
    tiny = {g.index: np.full(g.size, 1.0) if g.name != "down2.0" else np.linspace(1e-6, 1e-5, g.size) for g in dep.groups}
    removed = choose(dep, {k: v / v.mean() * (1 if dep.groups[k].name != "down2.0" else 1e-3) for k, v in tiny.items()},
                     Budget(ratio=0.9), "global", min_keep=0.1)
    assert min(w / full for w, full in zip(_widths(dep, removed), [32, 64, 64, 64, 128])) >= 0.1


def test_mac_target_is_met_closely() -> None:
    model = randomize_bn(zoo.get("digits_resnet").build())
    for target in (0.5, 0.25, 0.1):
        res = prune_step(model, SHAPE, L1(), Budget(macs=target), "global")
        got = analyze(import_module(res.model, SHAPE)).total.macs / res.macs_before
        assert target - 0.02 <= got <= target, (target, got)
        assert res.macs_after == analyze(import_module(res.model, SHAPE)).total.macs


def test_unreachable_target_names_the_problem() -> None:
    with pytest.raises(PruneError, match="MAC target 0.001 cannot be reached"):
        prune_step(zoo.get("digits_resnet").build(), SHAPE, L1(), Budget(macs=0.001))
    with pytest.raises(PruneError, match="exactly one budget"):
        Budget(ratio=0.5, macs=0.5)


def test_iterative_schedule_reaches_the_target_and_its_plan_replays() -> None:
    torch.manual_seed(0)
    model = randomize_bn(zoo.get("digits_resnet").build())
    calls = []
    res = prune_iterative(model, SHAPE, L1, Budget(macs=0.3), steps=3, finetune=lambda m, step: calls.append(step))
    assert calls == [1, 2]
    assert res.macs_after / res.macs_before <= 0.3
    replayed = apply_plan(model, res.plan)
    assert {k: v.shape for k, v in replayed.state_dict().items()} == {k: v.shape for k, v in res.model.state_dict().items()}
    ratio = prune_iterative(model, SHAPE, L1, Budget(ratio=0.5), steps=2)
    assert math.isclose(ratio.plan.removed / DependencyGraph.build(model, SHAPE).prunable, 0.5, abs_tol=0.05)


def test_latency_budget_uses_the_latency_model() -> None:
    from aics.compress.prune import MacProxyLatency

    model = randomize_bn(zoo.get("digits_resnet").build())
    lat = MacProxyLatency()
    goal = 0.5 * lat.latency_ms(model, SHAPE)
    res = prune_step(model, SHAPE, L1(), Budget(latency_ms=goal), "global", latency=lat)
    assert 0.9 * goal <= lat.latency_ms(res.model, SHAPE) <= goal
    with pytest.raises(PruneError, match="latency model"):
        prune_step(model, SHAPE, L1(), Budget(latency_ms=goal))
