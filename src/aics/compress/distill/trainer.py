"""Fine-tuning with extra loss terms: distillation, sparsity masks, BN-sparsity penalties.

``fit`` is ``aics.train.train``'s loop (same seeding, loader, optimiser, cosine schedule and image
shift) with three hooks: ``loss(x, y, logits)`` instead of plain cross-entropy, ``after_step(t)``
after each optimiser step (AGP masks), ``on_epoch(epoch)`` after each epoch (accuracy curves).
``distill`` builds the extra loss for KD, attention transfer or feature mimic from a teacher.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from aics.compress.distill.losses import AttentionTransfer, FeatureMimic, KDLoss
from aics.data import Split
from aics.errors import DataError
from aics.train import Loss, TrainConfig, TrainResult, train

DISTILL_METHODS = ("kd", "at", "mimic")


def fit(model: nn.Module, split: Split, config: TrainConfig, loss: Loss | None = None,
        after_step: Callable[[int], None] | None = None, on_epoch: Callable[[int], None] | None = None,
        extra_params: nn.Module | None = None) -> TrainResult:
    """``aics.train.train`` without a progress bar: the fine-tune loop of pruning and distillation."""
    return train(model, split, config, progress=False, loss=loss, after_step=after_step, on_epoch=on_epoch,
                 extra_params=extra_params)


@dataclass(frozen=True)
class DistillConfig:
    method: str = "kd"
    temperature: float = 4.0
    alpha: float = 0.9
    beta: float = 1000.0  # attention transfer weight
    mimic_weight: float = 1.0
    layers: tuple[str, ...] = field(default_factory=tuple)  # module names; empty = feature_layers()

    def __post_init__(self) -> None:
        if self.method not in DISTILL_METHODS:
            raise DataError(f"unknown distillation '{self.method}' (choose from {', '.join(DISTILL_METHODS)})")


def feature_layers(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[str, ...]:
    """Default layers to match: the last conv/BN module at each spatial resolution of the network
    (the end of every stage), found on our IR so any traceable model works."""
    from aics.ir.torch_import import import_module

    modules = dict(model.named_modules())
    last: dict[tuple[int, ...], str] = {}
    for node in import_module(model, input_shape).nodes:
        if node.op in ("conv2d", "batch_norm") and len(node.shape) == 4 and node.name in modules:
            last.pop(node.shape[2:], None)
            last[node.shape[2:]] = node.name
    return tuple(last.values())


class _Features:
    """Forward hooks storing the outputs of named modules for the current batch."""

    def __init__(self, model: nn.Module, names: tuple[str, ...]) -> None:
        modules = dict(model.named_modules())
        missing = [n for n in names if n not in modules]
        if missing:
            raise DataError(f"distillation layer(s) not in the model: {', '.join(missing)}")
        self.out: dict[str, torch.Tensor] = {}
        self.handles = [modules[n].register_forward_hook(self._hook(n)) for n in names]
        self.names = names

    def _hook(self, name: str) -> Callable[..., None]:
        def fn(_: nn.Module, __: object, out: torch.Tensor) -> None:
            self.out[name] = out
        return fn

    def values(self) -> list[torch.Tensor]:
        return [self.out[n] for n in self.names]

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def distill(student: nn.Module, teacher: nn.Module, split: Split, train: TrainConfig, config: DistillConfig,
            input_shape: tuple[int, ...], on_epoch: Callable[[int], None] | None = None) -> TrainResult:
    """Fine-tune ``student`` from ``teacher`` (frozen, eval mode) with ``config.method``."""
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    if config.method == "kd":
        kd = KDLoss(config.temperature, config.alpha)

        def kd_loss(x: torch.Tensor, y: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                t = teacher(x)
            return kd(logits, t, y)
        return fit(student, split, train, kd_loss, on_epoch=on_epoch)
    layers = config.layers or feature_layers(teacher, input_shape)
    s_feats, t_feats = _Features(student, layers), _Features(teacher, layers)
    try:
        with torch.no_grad():
            probe = torch.zeros(input_shape)
            student.eval()
            student(probe)
            teacher(probe)
        adapters = None
        if config.method == "mimic":
            adapters = FeatureMimic([f.shape[1] for f in s_feats.values()], [f.shape[1] for f in t_feats.values()])
        at = AttentionTransfer(config.beta)

        def feature_loss(x: torch.Tensor, y: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                teacher(x)
            s, t = s_feats.values(), t_feats.values()
            term = at(s, t) if adapters is None else config.mimic_weight * adapters(s, t)
            return F.cross_entropy(logits, y) + term
        return fit(student, split, train, feature_loss, on_epoch=on_epoch, extra_params=adapters)
    finally:
        s_feats.close()
        t_feats.close()
