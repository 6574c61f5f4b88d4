"""Resolve what a user names as a model: a zoo name, ``file.py:factory``, ``model.onnx`` or a
checkpoint ``ckpt.pt`` written by ``aics train``.

This sits above ``ir`` and ``zoo`` and below the CLI; every command that takes MODEL uses it.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from aics.errors import AicsError, ModelError
from aics.ir.graph import Graph

Shape = tuple[int, ...]


def parse_shape(text: str) -> Shape:
    """``1x3x224x224`` (or commas) -> (1, 3, 224, 224)."""
    parts = re.split(r"[x,\s]+", text.strip().lower())
    if not parts or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise AicsError(f"bad input shape '{text}' (expected e.g. 1x3x224x224)")
    return tuple(int(p) for p in parts)


@dataclass(frozen=True)
class TorchModel:
    module: nn.Module
    name: str
    input_shape: Shape
    input_dtype: str = "float32"
    input_range: tuple[int, int] | None = None

    def example_input(self, seed: int = 0) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        if self.input_dtype.startswith("int"):
            lo, hi = self.input_range or (0, 2)
            return torch.randint(lo, hi, self.input_shape, generator=gen)
        return torch.randn(self.input_shape, generator=gen)


def _load_factory(spec: str) -> nn.Module:
    path_text, _, factory = spec.rpartition(":")
    path = Path(path_text)
    if not path.is_file():
        raise ModelError(f"model file '{path}' does not exist")
    mod_spec = importlib.util.spec_from_file_location(f"aics_user_{path.stem}", path)
    if mod_spec is None or mod_spec.loader is None:
        raise ModelError(f"cannot import '{path}'")
    module = importlib.util.module_from_spec(mod_spec)
    sys.modules[mod_spec.name] = module
    try:
        mod_spec.loader.exec_module(module)
    except Exception as err:
        raise ModelError(f"importing '{path}' failed: {type(err).__name__}: {err}") from None
    fn = getattr(module, factory, None)
    if not callable(fn):
        raise ModelError(f"'{path}' has no function '{factory}'")
    try:
        model = fn()
    except Exception as err:
        raise ModelError(f"'{spec}' raised {type(err).__name__}: {err}") from None
    if not isinstance(model, nn.Module):
        raise ModelError(f"'{spec}' returned {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


def load_torch(spec: str, input_shape: Shape | None = None, meta: bool = False) -> TorchModel:
    """An nn.Module with its input description. ``meta`` builds zoo models without weights."""
    if spec.endswith(".onnx"):
        raise ModelError(f"'{spec}' is an ONNX file, not a PyTorch model")
    if spec.endswith(".pt"):
        from aics.checkpoint import load

        ckpt = load(spec)
        return TorchModel(ckpt.build(), ckpt.model, input_shape or ckpt.input_shape, ckpt.input_dtype)
    if ":" in spec and spec.rsplit(":", 1)[0].endswith(".py"):
        model = _load_factory(spec)
        if input_shape is None:
            raise AicsError(f"'{spec}' needs --input-shape (a factory does not say its input)")
        return TorchModel(model, spec.rsplit(":", 1)[1], input_shape)
    from aics import zoo

    entry = zoo.get(spec)
    if meta:
        with torch.device("meta"):
            module = entry.build()
    else:
        module = entry.build()
    return TorchModel(module, entry.name, input_shape or entry.input_shape, entry.input_dtype, entry.input_range)


def load_graph(spec: str, input_shape: Shape | None = None, weights: bool = False) -> Graph:
    """The IR of any model form; without ``weights`` zoo models are traced on the meta device."""
    if spec.endswith(".onnx"):
        from aics.ir.onnx_import import import_onnx

        return import_onnx(spec, input_shape)
    from aics.ir.torch_import import import_module

    tm = load_torch(spec, input_shape, meta=not weights)
    return import_module(tm.module, tm.input_shape, tm.input_dtype, tm.name)
