"""Pruned checkpoints: an ``aics.checkpoint`` file with the prune plan under an extra key.

A pruned model no longer matches its zoo constructor, so the checkpoint also carries the plan
(JSON text under ``prune_plan``): loading builds the original model from its name and arguments,
replays the plan, then loads the weights. Files are written to a temporary name and renamed, so
an interrupted save never leaves half a checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from aics import checkpoint
from aics.checkpoint import Checkpoint
from aics.compress.prune.apply import apply_plan
from aics.compress.prune.plan import PrunePlan
from aics.errors import ModelError

PLAN_KEY = "prune_plan"


def save_pruned(ckpt: Checkpoint, plan: PrunePlan | None, path: str | Path) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        checkpoint.save(ckpt, tmp)
        if plan is not None:
            payload = torch.load(tmp, map_location="cpu", weights_only=True)
            payload[PLAN_KEY] = plan.to_json()
            torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_plan(path: str | Path) -> PrunePlan | None:
    """The plan stored in a checkpoint, or None for an unpruned one."""
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types on a bad file
        raise ModelError(f"'{path}' is not a readable checkpoint ({type(err).__name__})") from None
    text = payload.get(PLAN_KEY) if isinstance(payload, dict) else None
    return None if text is None else PrunePlan.from_json(str(text))


def load_model(path: str | Path) -> tuple[Checkpoint, nn.Module, PrunePlan | None]:
    """(checkpoint, model with its weights in eval mode, plan) for pruned and unpruned files alike."""
    ckpt = checkpoint.load(path)
    plan = read_plan(path)
    if plan is None:
        return ckpt, ckpt.build(), None
    base = checkpoint._construct(ckpt.model, ckpt.kwargs, ckpt.input_shape)
    model = apply_plan(base, plan)
    checkpoint.load_state(model, ckpt.state_dict, ckpt.model)
    return ckpt, model.eval(), plan
