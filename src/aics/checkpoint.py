"""Self-describing checkpoints: enough to rebuild the model, its input and its data without the
script that trained it.

A checkpoint is a plain dict of str / int / float / list / dict / tensors, written with
``torch.save`` and read with ``torch.load(weights_only=True)`` (no pickled classes, so loading a
file from elsewhere cannot run code). It names the model (a zoo name or ``file.py:factory``), the
constructor arguments, the input shape and dtype, the data preparation the model was trained on,
the state_dict and the training metrics. A pruned model no longer matches its constructor, so its
checkpoint also carries the prune plan (JSON text): ``build`` constructs the original model,
replays the plan, then loads the weights.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from aics.data import DigitsConfig
from aics.errors import AicsError, ModelError

FORMAT = "aics-checkpoint"
VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    model: str  # zoo name or path/to/file.py:factory
    input_shape: tuple[int, ...]
    state_dict: Mapping[str, torch.Tensor]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    input_dtype: str = "float32"
    data: DigitsConfig | None = None  # how inputs were prepared (None: not trained on our data)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    prune_plan: str | None = None  # ``aics.compress.prune.PrunePlan`` as JSON, for pruned models

    def build(self) -> nn.Module:
        """The model with this checkpoint's weights, in eval mode; a mismatch raises ``ModelError``."""
        module = construct(self.model, self.kwargs, self.input_shape)
        if self.prune_plan is not None:
            from aics.compress.prune.apply import apply_plan
            from aics.compress.prune.plan import PrunePlan

            module = apply_plan(module, PrunePlan.from_json(self.prune_plan))
        load_state(module, self.state_dict, self.model)
        return module.eval()


def from_module(model: str, module: nn.Module, input_shape: tuple[int, ...], kwargs: Mapping[str, Any] | None = None,
                data: DigitsConfig | None = None, metrics: Mapping[str, Any] | None = None) -> Checkpoint:
    """A checkpoint of ``module``'s current weights (copied, so later training does not alter it)."""
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    return Checkpoint(model, tuple(input_shape), state, dict(kwargs or {}), data=data, metrics=dict(metrics or {}))


def save(ckpt: Checkpoint, path: str | Path) -> None:
    payload = {
        "format": FORMAT, "version": VERSION, "model": ckpt.model, "kwargs": _plain(dict(ckpt.kwargs)),
        "input_shape": list(ckpt.input_shape), "input_dtype": ckpt.input_dtype,
        "data": None if ckpt.data is None else dataclasses.asdict(ckpt.data),
        "metrics": _plain(dict(ckpt.metrics)), "state_dict": dict(ckpt.state_dict),
    }
    if ckpt.prune_plan is not None:
        payload["prune_plan"] = ckpt.prune_plan
    # Written under a temporary name and renamed: an interrupted save leaves no half checkpoint.
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load(path: str | Path) -> Checkpoint:
    """Read a checkpoint safely; anything that is not one of ours raises ``ModelError``."""
    try:
        d = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"checkpoint '{path}' does not exist") from None
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"'{path}' is not a readable checkpoint ({first})") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise ModelError(f"'{path}' is not an aics checkpoint (no '{FORMAT}' header)")
    if d.get("version") != VERSION:
        raise ModelError(f"'{path}': checkpoint version {d.get('version')} (this aics reads {VERSION})")
    try:
        data = None if d["data"] is None else DigitsConfig(**d["data"])
        return Checkpoint(str(d["model"]), tuple(int(s) for s in d["input_shape"]), dict(d["state_dict"]),
                          _tuples(d["kwargs"]), str(d["input_dtype"]), data, dict(d["metrics"]),
                          d.get("prune_plan"))
    except (KeyError, TypeError, ValueError, AicsError) as err:
        raise ModelError(f"'{path}': malformed checkpoint ({type(err).__name__}: {err})") from None


def load_state(module: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    """``load_state_dict`` (strict) with every mismatch summarised on one line."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [f"{k} {list(state[k].shape)} vs {list(own[k].shape)}" for k in own
             if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    problems = ([f"missing keys {_few(missing)}"] if missing else []) + \
        ([f"unexpected keys {_few(unexpected)}"] if unexpected else []) + \
        ([f"wrong shapes {_few(wrong)}"] if wrong else [])
    if problems:
        raise ModelError(f"checkpoint does not match model '{what}': {'; '.join(problems)}")
    module.load_state_dict(dict(state), strict=True)


def construct(spec: str, kwargs: Mapping[str, Any], input_shape: tuple[int, ...]) -> nn.Module:
    """The untrained model a checkpoint names (zoo name + kwargs, or a factory)."""
    from aics import zoo
    from aics.models import load_torch

    if spec.rsplit(":", 1)[0].endswith(".py"):
        if kwargs:
            raise ModelError(f"checkpoint for '{spec}' has constructor arguments, but factories take none")
        return load_torch(spec, input_shape).module
    try:
        return zoo.get(spec).build(**kwargs)
    except TypeError as err:
        raise ModelError(f"model '{spec}' does not accept the checkpoint's arguments ({err})") from None


def _few(items: list[str]) -> str:
    return ", ".join(items[:3]) + (f" (+{len(items) - 3} more)" if len(items) > 3 else "")


def _plain(value: Any) -> Any:
    """Tuples become lists (what weights_only loading round-trips everywhere)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _tuples(value: Any) -> Any:
    """Lists back to tuples: zoo constructors take tuples (e.g. MLP sizes)."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value
