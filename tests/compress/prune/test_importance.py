"""Each criterion on a tiny model, against values computed by hand."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from aics.compress.prune import BNScale, DependencyGraph, L1, L2, Lasso, Random, Taylor, reconstruct
from aics.compress.prune.apply import apply_removal, plan_for
from aics.compress.prune.importance import slimming_penalty
from aics.compress.prune.select import Budget, choose

from .helpers import TinyNet, randomize_bn

SHAPE = (1, 3, 8, 8)


def _dep(model: nn.Module) -> DependencyGraph:
    return DependencyGraph.build(model, SHAPE)


def _group(dep: DependencyGraph, module: str):
    return next(g for g in dep.groups if any(m.param == f"{module}.weight" and m.role == "out" for m in g.members))


def test_groups_couple_the_residual_and_the_flatten() -> None:
    dep = _dep(randomize_bn(TinyNet()))
    res = _group(dep, "c2")
    assert res is _group(dep, "c1")  # c1 and c2 feed the same add
    params = {(m.param, m.axis) for m in res.members}
    assert {("c1.weight", 0), ("c2.weight", 0), ("c2.weight", 1), ("c3.weight", 1), ("b1.weight", 0)} <= params
    fc = next(m for m in _group(dep, "c3").members if m.param == "fc.weight")
    assert fc.axis == 1 and np.array_equal(fc.classes, np.repeat(np.arange(16), 16))  # 4x4 features per channel


def test_l1_l2_are_norms_of_the_producer_rows() -> None:
    model = randomize_bn(TinyNet())
    g = _group(_dep(model), "c3")
    w = model.c3.weight.detach().reshape(16, -1)
    np.testing.assert_allclose(L1()(g), w.abs().sum(1).numpy(), rtol=1e-5)
    np.testing.assert_allclose(L2()(g), w.norm(dim=1).numpy(), rtol=1e-5)
    both = _group(_dep(model), "c1")  # residual group: two producers, norms combine
    w1, w2 = model.c1.weight.detach().reshape(8, -1), model.c2.weight.detach().reshape(8, -1)
    np.testing.assert_allclose(L1()(both), (w1.abs().sum(1) + w2.abs().sum(1)).numpy(), rtol=1e-5)


def test_bn_scale_and_random() -> None:
    model = randomize_bn(TinyNet())
    dep = _dep(model)
    crit = BNScale()
    crit.prepare(dep)
    np.testing.assert_allclose(crit(_group(dep, "c3")), model.b3.weight.detach().abs().numpy(), rtol=1e-6)
    g = _group(dep, "c3")
    np.testing.assert_array_equal(Random(3)(g), Random(3)(g))
    assert not np.array_equal(Random(3)(g), Random(4)(g))
    want = 0.5 * sum(float(b.weight.abs().sum()) for b in (model.b1, model.b2, model.b3))
    assert float(slimming_penalty(model, 0.5)) == pytest.approx(want, rel=1e-6)


def test_taylor_is_mean_activation_times_gradient() -> None:
    torch.manual_seed(0)
    model = randomize_bn(TinyNet())
    x, y = torch.randn(6, 3, 8, 8), torch.randint(0, 5, (6,))
    dep = _dep(copy.deepcopy(model))
    crit = Taylor([(x, y)])
    crit.prepare(dep)
    scores = crit(_group(dep, "c3"))
    # by hand: the b3 output (BN right after c3), |mean over positions of a * dL/da| summed over examples / N
    feats = {}

    def keep(_: nn.Module, __: object, out: torch.Tensor) -> None:
        out.retain_grad()
        feats["a"] = out
    model.b3.register_forward_hook(keep)
    nn.functional.cross_entropy(model(x), y).backward()
    a = feats["a"]
    want = (a * a.grad).mean((2, 3)).abs().sum(0) / 6
    np.testing.assert_allclose(scores, want.detach().numpy(), rtol=1e-4, atol=1e-9)
    assert (scores > 0).all()


def test_lasso_reconstruction_beats_plain_l1_on_the_next_layer() -> None:
    torch.manual_seed(0)
    model = randomize_bn(TinyNet())
    x = torch.randn(64, 3, 8, 8)

    def next_layer_error(criterion, refit: bool) -> float:
        dep = _dep(copy.deepcopy(model))
        criterion.prepare(dep)
        g = _group(dep, "c3")
        scores = {k.index: (criterion(k) if k.index == g.index else np.arange(k.size, dtype=float)) for k in dep.groups}
        # prune only c3's output channels (half of them): the fc layer is the next layer
        removed = {r for r in choose(dep, scores, Budget(ratio=0.5), "local") if r in
                   {dep.class_root[(g.index, c)] for c in range(g.size)}}
        plan = plan_for(dep, removed)
        pruned = apply_removal(dep.model, dep, removed)
        if refit:
            assert reconstruct(pruned, model, plan, [x]) == ["fc"]
        with torch.no_grad():
            return float((pruned(x) - model(x)).pow(2).mean())

    plain, lasso = next_layer_error(L1(), False), next_layer_error(Lasso([x]), True)
    assert lasso < 0.5 * plain
