"""Lookup tables for elementwise functions of integer codes (int8/int16 affine, fixed point).

An elementwise function of a tensor with at most 2**16 codes is one table lookup on the DLP's
vector unit. The table is built once, on the host, from the float function evaluated in float64:

    table[q - lo] = quantize_out(f(real_in(q)))    for every input code q in [lo, hi]

* affine (int8 / int16): ``real_in(q) = scale * (q - zp)``; ``quantize_out(y)`` rounds
  ``y / scale_out`` half away from zero, adds the output zero point and saturates to the dtype;
* fixed point: ``real_in(q) = q * 2**-frac``; ``quantize_out`` is the output ``FixedType``'s own
  ``quantize`` (its rounding, then wrap or saturation: ``ap_fixed`` assignment from a double).

Every backend (reference executor, DLP simulator, HLS C) uses these tables, so the results agree
bit for bit whatever the function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from numpy.typing import NDArray

from aics.numerics.fixed_type import FixedType
from aics.numerics.fixedpoint import dtype_range, round_half_away

MAX_TABLE = 1 << 16


@dataclass(frozen=True)
class Affine:
    """An affine integer representation: ``real = scale * (q - zero_point)``, codes of ``dtype``."""

    scale: float
    zero_point: int
    dtype: str  # int8, int16, int32, uint8


Rep = Affine | FixedType


def code_range(rep: Rep) -> tuple[int, int]:
    """(lowest, highest) code of a representation."""
    if isinstance(rep, FixedType):
        return rep.min_code, rep.max_code
    return dtype_range(rep.dtype)


def to_real(codes: NDArray[np.integer], rep: Rep) -> NDArray[np.float64]:
    """The real values (float64) that codes stand for."""
    if isinstance(rep, FixedType):
        return rep.to_real(codes)
    return rep.scale * (np.asarray(codes, dtype=np.float64) - rep.zero_point)


def from_real(x: NDArray[np.floating], rep: Rep) -> NDArray[np.int64]:
    """Real values to codes (the table's ``quantize_out``, see the module docstring)."""
    if isinstance(rep, FixedType):
        return rep.quantize(x)
    lo, hi = dtype_range(rep.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        q = round_half_away(np.asarray(x, dtype=np.float64) / rep.scale) + rep.zero_point
    return np.clip(np.nan_to_num(q, nan=float(rep.zero_point)), lo, hi).astype(np.int64)


def build_lut(fn: Callable[[NDArray[np.float64]], NDArray[np.float64]], rep_in: Rep, rep_out: Rep) -> NDArray[np.int64]:
    """The table of ``fn`` from ``rep_in`` codes to ``rep_out`` codes, indexed by ``q - lo``."""
    lo, hi = code_range(rep_in)
    if hi - lo + 1 > MAX_TABLE:
        raise ValueError(f"a lookup table over {hi - lo + 1} codes is too large (at most {MAX_TABLE})")
    codes = np.arange(lo, hi + 1, dtype=np.int64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        y = np.asarray(fn(to_real(codes, rep_in)), dtype=np.float64)
    return from_real(y, rep_out)


def apply_lut(codes: NDArray[np.integer], table: NDArray[np.int64], rep_in: Rep) -> NDArray[np.int64]:
    """``table[q - lo]`` (equal to ``kernels.lut`` when input and output dtypes match)."""
    lo, _ = code_range(rep_in)
    return table[np.asarray(codes, dtype=np.int64) - lo]


def apply_channel_luts(codes: NDArray[np.integer], tables: NDArray[np.int64], rep_in: Rep,
                       axis: int = 1) -> NDArray[np.int64]:
    """One table per channel (``tables`` is (C, n)): ``tables[c, q - lo]`` along ``axis``."""
    lo, _ = code_range(rep_in)
    q = np.asarray(codes, dtype=np.int64)
    shape = [1] * q.ndim
    shape[axis] = tables.shape[0]
    return tables[np.arange(tables.shape[0]).reshape(shape), q - lo]
