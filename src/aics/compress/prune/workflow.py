"""The ``aics prune`` pipeline as a function: load, score, prune, recover, report.

Kept out of the CLI so Python users get the same thing: ``run(PruneRequest(...))`` returns the
pruned model, its plan (relative to the original architecture, composed with any earlier pruning
of a pruned checkpoint) and the before/after numbers.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from aics.analysis.analyze import analyze
from aics.compress.prune.apply import plan_for, removed_for_keeps
from aics.compress.prune.dependency import DependencyGraph
from aics.errors import PruneError
from aics.compress.prune.importance import BNScale, Importance, L1, L2, Random, Taylor, slimming_penalty
from aics.compress.prune.lasso import Lasso, reconstruct
from aics.compress.prune.latency import MacProxyLatency
from aics.compress.prune.plan import PrunePlan
from aics.compress.prune.pruner import merge_keeps, prune_iterative
from aics.compress.prune.select import Budget
from aics.data import Split, check_arrays
from aics.ir.torch_import import import_module
from aics.train import TrainConfig, evaluate

METHODS = ("l1", "l2", "taylor", "slim", "lasso", "random", "netadapt")


@dataclass(frozen=True)
class PruneRequest:
    model: str
    method: str = "l1"
    ratio: float | None = None
    target_macs: float | None = None
    target_latency_ms: float | None = None
    arch: str | None = None
    scope: str = "local"
    min_keep: float = 0.1
    steps: int = 1
    data: str = "digits"
    finetune_epochs: int = 5
    distill: str | None = None
    lr: float = 0.01
    optimizer: str = "sgd"
    seed: int = 0
    input_size: int | None = None
    calib: int = 256  # training examples for Taylor / LASSO statistics
    slim_epochs: int = 5
    slim_strength: float = 1e-4


@dataclass(frozen=True)
class PruneOutcome:
    model: nn.Module
    plan: PrunePlan
    name: str
    kwargs: dict[str, Any]
    input_shape: tuple[int, ...]
    split: Split
    report: dict[str, Any]


def _load(req: PruneRequest) -> tuple[nn.Module, str, dict[str, Any], tuple[int, ...], Split, PrunePlan | None]:
    from aics import zoo
    from aics.data import NUM_CLASSES, load_dataset, load_digits

    if req.model.endswith(".pt"):
        from aics.compress.prune.checkpoint_io import load_model

        ckpt, model, plan = load_model(req.model)
        split = load_digits(ckpt.data) if ckpt.data else load_dataset(req.data, ckpt.input_shape, req.input_size)
        return model, ckpt.model, dict(ckpt.kwargs), tuple(ckpt.input_shape), split, plan
    entry = zoo.get(req.model)
    kwargs: dict[str, Any] = {}
    if "num_classes" in inspect.signature(entry.factory).parameters:
        kwargs["num_classes"] = NUM_CLASSES
    shape = tuple(entry.input_shape)
    if req.input_size is not None and len(shape) == 4:
        shape = (*shape[:2], req.input_size, req.input_size)
    split = load_dataset(req.data, shape, req.input_size)
    torch.manual_seed(req.seed)
    return entry.build(**kwargs), entry.name, kwargs, shape, split, None


def _importance(req: PruneRequest, split: Split) -> Importance:
    x = torch.from_numpy(split.x_train[:req.calib])
    y = torch.from_numpy(split.y_train[:req.calib])
    if req.method == "taylor":
        return Taylor([(x[i:i + 64], y[i:i + 64]) for i in range(0, len(x), 64)])
    if req.method == "lasso":
        return Lasso([x])
    if req.method == "slim":
        return BNScale()
    if req.method == "random":
        return Random(req.seed)
    return L2() if req.method in ("l2", "netadapt") else L1()


def _counts(model: nn.Module, shape: tuple[int, ...]) -> tuple[int, int]:
    total = analyze(import_module(model, shape)).total
    return total.macs, total.params


def run(req: PruneRequest) -> PruneOutcome:
    """Prune ``req.model`` as asked; every user error raises an ``AicsError`` subclass."""
    from aics.compress.distill.trainer import DistillConfig, distill, fit

    if req.method not in METHODS:
        raise PruneError(f"unknown method '{req.method}' (choose from {', '.join(METHODS)})")
    if req.target_latency_ms is not None or (req.method == "netadapt" and req.arch is not None):
        raise PruneError("latency targets need the DLP compiler and simulator, which this build does not have "
                         "yet; use --target-macs or --ratio")
    budget = Budget(ratio=req.ratio, macs=req.target_macs)
    if req.method == "netadapt" and budget.macs is None:
        raise PruneError("netadapt needs --target-macs (a fraction of the MAC-proxy latency) until the simulator lands")
    model, name, kwargs, shape, split, earlier = _load(req)
    check_arrays(split.x_train, split.y_train, "training data")
    check_arrays(split.x_test, split.y_test, "test data")
    macs0, params0 = _counts(model, shape)
    acc0 = evaluate(model, split.x_test, split.y_test)
    teacher = copy.deepcopy(model).eval()
    train = TrainConfig(epochs=req.finetune_epochs, optimizer=req.optimizer, lr=req.lr, weight_decay=5e-4,
                        seed=req.seed)
    if req.method == "slim":  # Network Slimming: sparsify BN scales before ranking them
        fit(model, split, TrainConfig(epochs=req.slim_epochs, optimizer=req.optimizer, lr=req.lr, seed=req.seed),
            lambda x, y, logits: torch.nn.functional.cross_entropy(logits, y) + slimming_penalty(model, req.slim_strength))
    between = TrainConfig(epochs=1, optimizer=req.optimizer, lr=req.lr, weight_decay=5e-4, seed=req.seed)
    if req.method == "netadapt":
        from aics.compress.prune.netadapt import netadapt

        lat = MacProxyLatency()
        holdout = (split.x_train[-360:], split.y_train[-360:])  # proposals are ranked off the test set
        res = netadapt(model, shape, lat, budget.macs * lat.latency_ms(model, shape),
                       lambda m: evaluate(m, *holdout), lambda m: fit(m, split, between), L2, min_keep=req.min_keep)
        pruned, plan = res.model, res.plan
    else:
        res = prune_iterative(model, shape, lambda: _importance(req, split), budget, req.steps,
                              lambda m, _: fit(m, split, between), req.scope, req.min_keep)
        pruned, plan = res.model, res.plan
    if req.method == "lasso":
        reconstruct(pruned, teacher, plan, [torch.from_numpy(split.x_train[:req.calib])])
    acc_pruned = evaluate(pruned, split.x_test, split.y_test)
    if req.finetune_epochs > 0:
        if req.distill:
            distill(pruned, teacher, split, train, DistillConfig(req.distill), shape)
        else:
            fit(pruned, split, train)
    if earlier is not None:
        plan = _compose(earlier, plan, name, kwargs, shape)
    macs1, params1 = _counts(pruned, shape)
    report = {
        "model": req.model, "method": req.method, "scope": req.scope, "distill": req.distill,
        "params_before": params0, "params_after": params1, "macs_before": macs0, "macs_after": macs1,
        "macs_fraction": macs1 / macs0 if macs0 else 1.0,
        "accuracy_before": acc0, "accuracy_pruned": acc_pruned,
        "accuracy_after": evaluate(pruned, split.x_test, split.y_test),
        "finetune_epochs": req.finetune_epochs, "channels_removed": plan.removed,
    }
    return PruneOutcome(pruned, plan, name, kwargs, shape, split, report)


def _compose(earlier: PrunePlan, plan: PrunePlan, name: str, kwargs: dict[str, Any],
             shape: tuple[int, ...]) -> PrunePlan:
    """A plan made on a pruned checkpoint, folded into that checkpoint's plan (original numbering)."""
    from aics.checkpoint import construct

    keeps = merge_keeps(merge_keeps(None, earlier), plan)
    dep = DependencyGraph.build(construct(name, kwargs, shape), shape, earlier.input_dtype)
    removed = removed_for_keeps(dep, {k: v[0] for k, v in keeps.items()}, {k: v[1] for k, v in keeps.items()})
    return plan_for(dep, removed)
