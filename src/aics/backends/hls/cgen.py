"""Small C-writing helpers shared by the layer emitters: buffers, loop nests, array literals.

Everything returns strings or lists of lines; nothing here knows about ops. Tensors are C arrays
of their shape without the batch axis (the IR graphs the backend takes have batch 1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from math import prod

import numpy as np

from aics.ir.quant import QuantParams

INDENT = "    "


@dataclass(frozen=True)
class Buf:
    """A tensor as a C array: its variable name, dims (batch axis dropped), code type and params."""

    name: str
    dims: tuple[int, ...]
    ctype: str
    qp: QuantParams

    def param(self, var: str) -> str:
        """A function parameter declaring this tensor, e.g. ``int8_t in[6][28][28]``."""
        return f"{self.ctype} {var}{dims_text(self.dims)}"

    @property
    def size(self) -> int:
        return prod(self.dims)


def dims_text(dims: tuple[int, ...]) -> str:
    return "".join(f"[{d}]" for d in dims)


def c_ident(text: str) -> str:
    """A C identifier from a node name (``features.0`` -> ``features_0``)."""
    ident = re.sub(r"\W", "_", text)
    return ident if ident and not ident[0].isdigit() else f"n_{ident}"


def code_ctype(bits: int) -> str:
    """The C integer type holding codes of ``bits`` bits."""
    for width in (8, 16, 32):
        if bits <= width:
            return f"int{width}_t"
    return "int64_t"


def value_ctype(lo: int, hi: int) -> str:
    """The narrowest signed C type holding every value in [lo, hi]."""
    for width in (8, 16, 32):
        if -(1 << (width - 1)) <= lo and hi < (1 << (width - 1)):
            return f"int{width}_t"
    return "int64_t"


def nest(dims: tuple[int, ...], names: str = "ijklmn") -> tuple[list[str], str, list[str]]:
    """Loops over every index of ``dims``: (opening lines, index text ``[i][j]``, closing lines)."""
    opens = [f"{INDENT * k}for (int {names[k]} = 0; {names[k]} < {d}; {names[k]}++) {{" for k, d in enumerate(dims)]
    closes = [f"{INDENT * k}}}" for k in reversed(range(len(dims)))]
    return opens, "".join(f"[{names[k]}]" for k in range(len(dims))), closes


def flat_index(dims: tuple[int, ...], var: str) -> str:
    """The index text of flat position ``var`` in a row-major array of ``dims``."""
    parts = []
    for k, d in enumerate(dims):
        inner = prod(dims[k + 1:])
        term = var if inner == 1 else f"{var} / {inner}"
        parts.append(f"[{term}]" if k == 0 else f"[({term}) % {d}]")
    return "".join(parts)


def indent(lines: list[str], levels: int) -> list[str]:
    return [INDENT * levels + line if line else line for line in lines]


def array_literal(values: np.ndarray) -> str:
    """A nested C initializer of an integer array (braces per dimension, one innermost row per line)."""
    arr = np.asarray(values, dtype=np.int64)
    if arr.ndim == 0:
        return str(int(arr))
    rows = ["{" + ",".join(map(str, row)) + "}" for row in arr.reshape(-1, arr.shape[-1]).tolist()]
    for d in reversed(arr.shape[:-1]):
        rows = ["{" + ",\n".join(rows[i:i + d]) + "}" for i in range(0, len(rows), d)]
    return rows[0]


def const_array(name: str, ctype: str, values: np.ndarray) -> str:
    arr = np.asarray(values)
    return f"static const {ctype} {name}{dims_text(tuple(arr.shape))} =\n{array_literal(arr)};"


def tap(out_var: str, stride: int, pad: int, k_var: str, dilation: int) -> str:
    """The input index read by output ``out_var`` at kernel tap ``k_var``: ``o*s - pad + k*d``."""
    text = out_var if stride == 1 else f"{out_var} * {stride}"
    text += f" - {pad}" if pad else ""
    return text + (f" + {k_var}" if dilation == 1 else f" + {k_var} * {dilation}")


def in_range(var: str, size: int, pad: int, out_size: int, stride: int, span: int) -> list[str]:
    """The bound checks ``tap`` needs: ``var >= 0`` only with padding before, ``var < size`` only
    when the last window (extent ``span``) reaches past the input. Padding is these conditions."""
    checks = [f"{var} >= 0"] if pad > 0 else []
    if (out_size - 1) * stride - pad + span > size:
        checks.append(f"{var} < {size}")
    return checks


def guarded(checks: list[str], statement: str, level: int) -> list[str]:
    """``statement`` at indent ``level``, inside ``if (checks)`` when there are any."""
    if not checks:
        return [INDENT * level + statement]
    return [f"{INDENT * level}if ({' && '.join(checks)}) {{", f"{INDENT * (level + 1)}{statement}",
            f"{INDENT * level}}}"]
