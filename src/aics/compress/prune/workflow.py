"""The ``aics prune`` pipeline as a function: load, score, prune, recover, report.

Kept out of the CLI so Python users get the same thing: ``run(PruneRequest(...))`` returns the
pruned model, its plan (relative to the original architecture, composed with any earlier pruning
of a pruned checkpoint) and the before/after numbers.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from aics.analysis.analyze import analyze
from aics.compress.prune.apply import plan_for, removed_for_keeps
from aics.compress.prune.dependency import DependencyGraph
from aics.errors import PruneError
from aics.compress.prune.importance import BNScale, Importance, L1, L2, Random, Taylor, slimming_penalty
from aics.compress.prune.lasso import Lasso, reconstruct
from aics.compress.prune.latency import LatencyModel, MacProxyLatency
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
    short_finetune_epochs: int = 1  # per NetAdapt proposal / between iterative steps; 0 = none
    distill: str | None = None
    lr: float = 0.01
    optimizer: str = "sgd"
    seed: int = 0
    input_size: int | None = None
    calib: int = 256  # training examples for Taylor / LASSO statistics
    cache: str | None = None  # latency lookup-table directory (default: ``dlp_latency.default_cache_dir()``)
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

    if req.short_finetune_epochs < 0:
        raise PruneError(f"--short-finetune-epochs must be >= 0, got {req.short_finetune_epochs}")
    if req.method not in METHODS:
        raise PruneError(f"unknown method '{req.method}' (choose from {', '.join(METHODS)})")
    if req.target_latency_ms is not None and req.arch is None:
        raise PruneError("--target-latency-ms needs --arch (the DLP the latency is simulated on)")
    budget = Budget(ratio=req.ratio, macs=req.target_macs, latency_ms=req.target_latency_ms)
    if req.method == "netadapt" and budget.ratio is not None:
        raise PruneError("netadapt needs --target-latency-ms with --arch, or --target-macs (a fraction of the "
                         "starting latency)")
    lat = _latency_model(req)
    model, name, kwargs, shape, split, earlier = _load(req)
    check_arrays(split.x_train, split.y_train, "training data")
    check_arrays(split.x_test, split.y_test, "test data")
    macs0, params0 = _counts(model, shape)
    lat0 = lat.latency_ms(model, shape)
    acc0 = evaluate(model, split.x_test, split.y_test)
    teacher = copy.deepcopy(model).eval()
    train = TrainConfig(epochs=req.finetune_epochs, optimizer=req.optimizer, lr=req.lr, weight_decay=5e-4,
                        seed=req.seed)
    if req.method == "slim":  # Network Slimming: sparsify BN scales before ranking them
        fit(model, split, TrainConfig(epochs=req.slim_epochs, optimizer=req.optimizer, lr=req.lr, seed=req.seed),
            lambda x, y, logits: torch.nn.functional.cross_entropy(logits, y) + slimming_penalty(model, req.slim_strength))
    between = TrainConfig(epochs=req.short_finetune_epochs, optimizer=req.optimizer, lr=req.lr, weight_decay=5e-4,
                          seed=req.seed)

    def short_fit(m: nn.Module) -> None:
        fit(m, split, between)

    short = short_fit if req.short_finetune_epochs > 0 else None
    if req.method == "netadapt":
        from aics.compress.prune.netadapt import netadapt

        holdout = (split.x_train[-360:], split.y_train[-360:])  # proposals are ranked off the test set
        target = budget.latency_ms if budget.latency_ms is not None else budget.macs * lat0  # type: ignore[operator]
        na = netadapt(model, shape, lat, target, lambda m: evaluate(m, *holdout), short,
                      L2, min_keep=req.min_keep)
        pruned, plan, steps = na.model, na.plan, len(na.history)
        history = [asdict(step) for step in na.history]
    else:
        res = prune_iterative(model, shape, lambda: _importance(req, split), budget, req.steps,
                              (lambda m, _: short_fit(m)) if short else None, req.scope, req.min_keep, lat)
        pruned, plan, steps, history = res.model, res.plan, req.steps, []
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
        "finetune_epochs": req.finetune_epochs, "channels_removed": plan.removed, "prune_steps": steps,
        **({"netadapt_history": history} if req.method == "netadapt" else {}),
        **_latency_report(req, lat, lat0, lat.latency_ms(pruned, shape)),
    }
    return PruneOutcome(pruned, plan, name, kwargs, shape, split, report)


def _latency_model(req: PruneRequest) -> LatencyModel:
    """The simulator's lookup table when an arch is given, the MAC proxy otherwise."""
    if req.arch is None:
        return MacProxyLatency()
    from aics.compress.prune.dlp_latency import SimulatedLatency, default_cache_dir

    return SimulatedLatency(req.arch, req.cache if req.cache is not None else default_cache_dir(), seed=req.seed)


def _latency_report(req: PruneRequest, lat: LatencyModel, before: float, after: float) -> dict[str, Any]:
    """Simulated latencies under their issue-6 names when an arch is given; otherwise the proxy's
    numbers under ``proxy_*`` names, so a proxy value is never mistaken for a simulated one."""
    from aics.compress.prune.dlp_latency import SimulatedLatency

    if isinstance(lat, SimulatedLatency):
        return {"arch": lat.arch.name, "latency_model": f"dlp-simulator ({lat.arch.name}, int8): before/after "
                "simulated directly, proposals from the per-layer lookup table",
                "latency_before_ms": before, "latency_after_ms": after,
                "latency_fraction": after / before if before else 1.0, "latency_table": lat.stats()}
    return {"arch": None, "latency_model": "mac-proxy (no --arch: MACs / 1024 GMAC/s + 0.1 us per layer)",
            "proxy_latency_before_ms": before, "proxy_latency_after_ms": after}


def _compose(earlier: PrunePlan, plan: PrunePlan, name: str, kwargs: dict[str, Any],
             shape: tuple[int, ...]) -> PrunePlan:
    """A plan made on a pruned checkpoint, folded into that checkpoint's plan (original numbering)."""
    from aics.checkpoint import construct

    keeps = merge_keeps(merge_keeps(None, earlier), plan)
    dep = DependencyGraph.build(construct(name, kwargs, shape), shape, earlier.input_dtype)
    removed = removed_for_keeps(dep, {k: v[0] for k, v in keeps.items()}, {k: v[1] for k, v in keeps.items()})
    return plan_for(dep, removed)
