"""Pruned checkpoints: an ``aics.checkpoint`` file that carries its prune plan.

``aics.checkpoint.Checkpoint.build`` replays the plan on the original model before loading the
weights, so every command that takes a checkpoint loads pruned ones too.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from torch import nn

from aics import checkpoint
from aics.checkpoint import Checkpoint
from aics.compress.prune.plan import PrunePlan


def save_pruned(ckpt: Checkpoint, plan: PrunePlan | None, path: str | Path) -> None:
    checkpoint.save(replace(ckpt, prune_plan=None if plan is None else plan.to_json()), path)


def load_model(path: str | Path) -> tuple[Checkpoint, nn.Module, PrunePlan | None]:
    """(checkpoint, model with its weights in eval mode, plan) for pruned and unpruned files alike."""
    ckpt = checkpoint.load(path)
    plan = None if ckpt.prune_plan is None else PrunePlan.from_json(ckpt.prune_plan)
    return ckpt, ckpt.build(), plan
