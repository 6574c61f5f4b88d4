"""Importance criteria: ``criterion(group) -> score per class`` (higher = more important, keep).

Each criterion is a small class with one job. Weight criteria read ``group.params``; criteria that
need data (Taylor, LASSO in lasso.py) are told the dependency graph first through ``prepare(dep)``
and collect what they need from the model then.
* ``L1`` / ``L2``: norm of each class's producer rows (Li et al., ICLR 2017 use L1 of filters).
* ``BNScale``: |gamma| of the BatchNorm after the producer (Network Slimming, Liu et al. 2017);
  train with ``slimming_penalty`` first so the gammas become sparse.
* ``Taylor``: Molchanov et al. (ICLR 2017) first-order Taylor expansion of the loss change when a
  feature map is zeroed: |mean over positions of activation * gradient|, averaged over examples.
* ``Random``: a seeded control.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np
import torch
from torch import nn

from aics.compress.prune.dependency import Group, Member

if TYPE_CHECKING:
    from aics.compress.prune.dependency import DependencyGraph

Batch = tuple[torch.Tensor, torch.Tensor]


class Importance:
    """Base: ``__call__(group)`` scores classes; ``prepare`` binds data-driven criteria to a model."""

    name = "importance"

    def prepare(self, dep: "DependencyGraph") -> None:
        """Called once per dependency graph before any group is scored."""

    def __call__(self, group: Group) -> np.ndarray:
        raise NotImplementedError


def _per_index(t: torch.Tensor, axis: int, p: float) -> np.ndarray:
    x = t.detach().float().movedim(axis, 0).reshape(t.shape[axis], -1)
    return x.abs().pow(p).sum(1).pow(1 / p).numpy() if p != 1 else x.abs().sum(1).numpy()


def _to_classes(group: Group, member: Member, values: np.ndarray) -> np.ndarray:
    return np.bincount(member.classes, weights=values, minlength=group.size)


def _weight_rows(group: Group) -> tuple[Member, ...]:
    """Producer weight rows (not biases); a group without producers falls back to every member."""
    rows = tuple(m for m in group.role("out") if not m.param.endswith("bias"))
    return rows or tuple(m for m in group.members if not m.param.endswith("bias")) or group.members


class Norm(Importance):
    """Lp norm of each class's producer weights (all its rows, over every coupled producer)."""

    def __init__(self, p: float) -> None:
        self.p = p
        self.name = f"l{p:g}"

    def __call__(self, group: Group) -> np.ndarray:
        total = np.zeros(group.size)
        for m in _weight_rows(group):
            total += _to_classes(group, m, _per_index(group.tensor(m), m.axis, self.p) ** self.p)
        return total ** (1 / self.p)


def L1() -> Norm:
    return Norm(1.0)


def L2() -> Norm:
    return Norm(2.0)


class BNScale(Importance):
    """|gamma| summed over the class's BatchNorm channels; groups without BN use the L1 norm."""

    name = "slim"

    def __init__(self) -> None:
        self._bn_weights: set[str] = set()

    def prepare(self, dep: "DependencyGraph") -> None:
        self._bn_weights = {dep.graph[n.inputs[1]].name for n in dep.graph.nodes if n.op == "batch_norm"}

    def __call__(self, group: Group) -> np.ndarray:
        gammas = [m for m in group.role("norm") if m.param in self._bn_weights]
        if not gammas:
            return L1()(group)
        return sum(_to_classes(group, m, group.tensor(m).abs().numpy()) for m in gammas)


class Random(Importance):
    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def __call__(self, group: Group) -> np.ndarray:
        return self.rng.random(group.size)


class Taylor(Importance):
    """Molchanov's first-order Taylor criterion on the producers' feature maps (after their BN when
    one follows directly): per channel |mean over positions of a * dL/da|, averaged over examples."""

    name = "taylor"

    def __init__(self, batches: Iterable[Batch], loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
                 ) -> None:
        self.batches = list(batches)
        self.loss = loss or nn.functional.cross_entropy
        self.scores: dict[str, np.ndarray] = {}  # producer weight param -> per-channel score

    def prepare(self, dep: "DependencyGraph") -> None:
        sources: dict[str, str] = {}  # producer weight param -> module whose output is the feature map
        for p in dep.tracer.params:
            if p.role == "out" and p.axis == 0 and p.const.endswith("weight"):
                node = dep.graph[p.node]
                source = dep.tracer.norm_after.get(node.name, node.name)
                if source in dict(dep.gm.named_modules()):
                    sources[p.const] = source
        self.scores = _taylor_scores(dep.gm, sources, self.batches, self.loss)

    def __call__(self, group: Group) -> np.ndarray:
        total = np.zeros(group.size)
        for m in group.role("out"):
            if m.param in self.scores:
                total += _to_classes(group, m, self.scores[m.param])
        return total


def _taylor_scores(model: nn.Module, sources: dict[str, str], batches: list[Batch],
                   loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> dict[str, np.ndarray]:
    acc: dict[str, torch.Tensor] = {}
    count = [0]
    modules = dict(model.named_modules())

    def hook(name: str) -> Callable[..., None]:
        def fwd(_: nn.Module, __: object, out: torch.Tensor) -> None:
            if not out.requires_grad:
                return
            value = out.detach().clone()  # before any in-place activation rewrites it

            def bwd(grad: torch.Tensor) -> None:
                prod = (value * grad).float()
                axis = 1 if prod.dim() == 4 else prod.dim() - 1
                per_example = prod.movedim(axis, -1).reshape(prod.shape[0], -1, prod.shape[axis]).mean(1)
                acc[name] = acc.get(name, 0) + per_example.abs().sum(0)
            out.register_hook(bwd)
        return fwd

    handles = [modules[m].register_forward_hook(hook(m)) for m in set(sources.values())]
    was_training = model.training
    model.eval()
    try:
        for x, y in batches:
            model.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            count[0] += len(x)
    finally:
        for h in handles:
            h.remove()
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return {p: (acc[m] / max(count[0], 1)).numpy() for p, m in sources.items() if m in acc}


def slimming_penalty(model: nn.Module, strength: float) -> torch.Tensor:
    """Network Slimming's sparsity term: ``strength * sum |gamma|`` over every BatchNorm; add it to
    the training loss so unimportant channels' scales go to zero before pruning by ``BNScale``."""
    terms = [m.weight.abs().sum() for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None]
    return strength * torch.stack(terms).sum() if terms else torch.zeros(())
