"""The zoo's entries: a name, a factory with its arguments and the default input shape.

Each model file exports ``ENTRIES: list[ZooEntry]``; ``aics.zoo`` gathers them into one mapping.
Variants of one architecture are entries over the same factory with other arguments, never copies.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from torch import nn

from aics.errors import UnknownModelError


@dataclass(frozen=True)
class ZooEntry:
    name: str
    factory: Callable[..., nn.Module]
    input_shape: tuple[int, ...]
    description: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    input_dtype: str = "float32"  # "int64" for models that take token ids
    # Value range for integer inputs (token ids): (low, high) exclusive high.
    input_range: tuple[int, int] | None = None

    def build(self, **overrides: Any) -> nn.Module:
        """Build the module with random weights (eval mode)."""
        model = self.factory(**{**self.kwargs, **overrides})
        return model.eval()


def lookup(entries: Mapping[str, ZooEntry], name: str) -> ZooEntry:
    """The entry called ``name``; an unknown name raises with the closest names suggested."""
    if name in entries:
        return entries[name]
    close = difflib.get_close_matches(name, list(entries), n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else " (`aics zoo` lists the models)"
    raise UnknownModelError(f"unknown model '{name}'{hint}")
