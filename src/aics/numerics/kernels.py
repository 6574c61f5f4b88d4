"""Array semantics of the DLP's compute instructions, shared with the reference executor.

Each function maps numpy arrays to a numpy array and is the single definition of what the
instruction computes; ``aics.dlp.sim.functional`` only moves bytes between scratchpads and these
functions. dtype names: ``int8``, ``int16``, ``int32``, ``fp16``, ``fp32``.

Integer rules: matrix products accumulate exactly and wrap to int32 at the end (equal to wrapping
at every step, arithmetic being modulo 2**32); elementwise integer ops saturate to their dtype.
Float rules: operands are widened to float32, results are float32 (or rounded to fp16 where the
output dtype is fp16), numpy's IEEE semantics.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from aics.numerics.fixedpoint import (
    multiply_by_quantized_multiplier,
    round_half_away,
    round_half_even,
    rounding_divide,
    saturate,
    wrap,
)

NUMPY_DTYPES: dict[str, Any] = {
    "int8": np.int8, "int16": np.int16, "int32": np.int32, "fp16": np.float16, "fp32": np.float32,
}
_FLOAT = ("fp16", "fp32")
_EXACT_F64 = 2**53  # integers below this add and multiply exactly in float64

Array = NDArray[Any]


def is_float(dtype: str) -> bool:
    return dtype in _FLOAT


def accumulator_dtype(dtype: str) -> str:
    """What a matrix product of ``dtype`` operands accumulates in: int32 or fp32."""
    return "fp32" if is_float(dtype) else "int32"


def matmul(a: Array, b: Array, dtype: str, a_offset: int = 0) -> Array:
    """``(a - a_offset) @ b``: int32 (wrapped) for integer operands, float32 for fp16/fp32."""
    if is_float(dtype):
        return np.matmul(a.astype(np.float32), b.astype(np.float32))
    return wrap(_int_matmul(a.astype(np.int64) - a_offset, b.astype(np.int64))).astype(np.int32)


def accumulate(old: Array, new: Array) -> Array:
    """``old + new`` in the accumulator type: int32 wraps, float32 adds."""
    if old.dtype == np.float32:
        return (old + new).astype(np.float32)
    return wrap(old.astype(np.int64) + new.astype(np.int64)).astype(np.int32)


def conv2d(
    x: Array,
    w: Array,
    dtype: str,
    stride: tuple[int, int] = (1, 1),
    dilation: tuple[int, int] = (1, 1),
    pad: tuple[int, int, int, int] = (0, 0, 0, 0),
    groups: int = 1,
    a_offset: int = 0,
) -> Array:
    """Direct convolution of ``x`` (C, H, W) with ``w`` (O, C/groups, kh, kw) -> (O, Ho, Wo).

    ``pad`` is (top, bottom, left, right); padded inputs equal ``a_offset``, so they add zero.
    """
    c, _, _ = x.shape
    o, cg, kh, kw = w.shape
    top, bottom, left, right = pad
    xs: Array
    ws: Array
    if is_float(dtype):
        xs, ws = x.astype(np.float32), w.astype(np.float32)
    else:
        xs, ws = x.astype(np.int64) - a_offset, w.astype(np.int64)
    xp = np.pad(xs, ((0, 0), (top, bottom), (left, right)))
    (sh, sw), (dh, dw) = stride, dilation
    span = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    win = sliding_window_view(xp, span, axis=(1, 2))[:, ::sh, ::sw, ::dh, ::dw]
    _, ho, wo, _, _ = win.shape
    og = o // groups
    # im2col per group, then one batched matrix product over the groups.
    cols = win.reshape(groups, cg, ho, wo, kh, kw).transpose(0, 2, 3, 1, 4, 5)
    cols = cols.reshape(groups, ho * wo, cg * kh * kw)
    wt = ws.reshape(groups, og, cg * kh * kw).transpose(0, 2, 1)
    if is_float(dtype):
        out = np.matmul(cols, wt)
    else:
        out = wrap(_int_matmul(cols, wt)).astype(np.int32)
    return out.transpose(0, 2, 1).reshape(o, ho, wo)


def eltwise(op: str, a: Array, b: Array, dtype: str) -> Array:
    """``a OP b`` for op in add, sub, mul, max, min; integers saturate, floats follow IEEE."""
    fn = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "max": np.maximum, "min": np.minimum}[op]
    if is_float(dtype):
        kind = NUMPY_DTYPES[dtype]
        return fn(a.astype(kind), b.astype(kind)).astype(kind)
    return saturate(fn(a.astype(np.int64), b.astype(np.int64)), dtype).astype(NUMPY_DTYPES[dtype])


def lut(x: Array, table: Array, dtype: str) -> Array:
    """``table[x - min(dtype)]``: 256 entries for int8, 65536 for int16."""
    lo = -128 if dtype == "int8" else -32768
    return table[x.astype(np.int64) - lo].astype(NUMPY_DTYPES[dtype])


def rescale(
    x: Array, in_zp: int, left_shift: int, mult: int, shift: int,
    out_zp: int, qmin: int, qmax: int, out_dtype: str,
) -> Array:
    """TFLite ADD input/output scaling: ``sat(clip(out_zp + MBQM(wrap32((x - in_zp) << left_shift),
    mult, shift), qmin, qmax))``."""
    shifted = wrap((x.astype(np.int64) - in_zp) << np.int64(left_shift))
    scaled = multiply_by_quantized_multiplier(shifted, mult, shift) + out_zp
    return saturate(np.clip(scaled, qmin, qmax), out_dtype).astype(NUMPY_DTYPES[out_dtype])


RoundMode = Literal["half_even", "half_away"]


def cast(x: Array, in_dtype: str, out_dtype: str, scale: float = 1.0, zp: int = 0,
         rounding: RoundMode = "half_even") -> Array:
    """Conversions between integer and float dtypes (float32 ``scale``, integer ``zp``).

    * int -> int: ``sat(x - zp)``;  int -> float: ``float32(x - zp) * scale``;
    * float -> int: ``sat(round(float32(x) / scale) + zp)``, NaN taken as 0, +-inf saturating;
    * float -> float: ``float32(x) * scale``, rounded to the output dtype.
    """
    out_kind = NUMPY_DTYPES[out_dtype]
    s = np.float32(scale)
    if not is_float(in_dtype):
        shifted = x.astype(np.int64) - zp
        if is_float(out_dtype):
            return (shifted.astype(np.float32) * s).astype(out_kind)
        return saturate(shifted, out_dtype).astype(out_kind)
    v = x.astype(np.float32)
    if is_float(out_dtype):
        return (v * s).astype(out_kind)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        q = np.nan_to_num((v / s).astype(np.float64), nan=0.0, posinf=np.inf, neginf=-np.inf)
    q = round_half_even(q) if rounding == "half_even" else round_half_away(q)
    info = np.iinfo(out_kind)
    return np.clip(q + zp, info.min, info.max).astype(out_kind)


def pool2d(
    x: Array, mode: str, kernel: tuple[int, int], stride: tuple[int, int],
    pad: tuple[int, int, int, int], dtype: str, count_pad: bool = False, pad_value: int = 0,
) -> Array:
    """Max or average pooling of ``x`` (C, H, W), output in ``dtype``.

    max: padding never wins. avg: the window sum over in-bounds elements (plus ``pad_value`` per
    padded element when ``count_pad``) divided by the number of elements counted (kh*kw when
    ``count_pad``); integers divide with ``rounding_divide`` (nearest, ties away from zero),
    floats sum in float32. Padded elements of a float average count as 0.0.
    """
    top, bottom, left, right = pad
    kh, kw = kernel
    sh, sw = stride
    widths = ((0, 0), (top, bottom), (left, right))
    floating = is_float(dtype)
    if mode == "max":
        low = -np.inf if floating else np.iinfo(NUMPY_DTYPES[dtype]).min
        xp = np.pad(x.astype(np.float32 if floating else np.int64), widths, constant_values=low)
        return _windows(xp, kh, kw, sh, sw).max(axis=(-2, -1)).astype(NUMPY_DTYPES[dtype])
    fill = 0 if floating else pad_value
    xp = np.pad(x.astype(np.float32 if floating else np.int64), widths,
                constant_values=fill if count_pad else 0)
    sums = _windows(xp, kh, kw, sh, sw).sum(axis=(-2, -1), dtype=np.float32 if floating else np.int64)
    if count_pad:
        counts = np.full(sums.shape[1:], kh * kw, dtype=np.int64)
    else:
        ones = np.pad(np.ones(x.shape[1:], dtype=np.int64), widths[1:])
        counts = sliding_window_view(ones, (kh, kw))[::sh, ::sw].sum(axis=(-2, -1))
    if floating:
        return (sums / counts.astype(np.float32)).astype(NUMPY_DTYPES[dtype])
    return rounding_divide(sums, np.maximum(counts, 1)).astype(NUMPY_DTYPES[dtype])


def reduce(x: Array, op: str, axis: int, dtype: str) -> Array:
    """Sum or max of a (rows, cols) block along ``axis``; integer sums wrap to int32, float sums
    are float32; max keeps ``dtype``."""
    if op == "max":
        return x.max(axis=axis).astype(NUMPY_DTYPES[dtype])
    if is_float(dtype):
        return x.astype(np.float32).sum(axis=axis, dtype=np.float32)
    return wrap(x.astype(np.int64).sum(axis=axis)).astype(np.int32)


def reduce_dtype(op: str, dtype: str) -> str:
    """Output dtype of ``reduce``."""
    if op == "max":
        return dtype
    return "fp32" if is_float(dtype) else "int32"


def unary(x: Array, op: str, dtype: str) -> Array:
    """exp, rsqrt (``1 / sqrt``, two roundings) or recip in float32, rounded to ``dtype``."""
    v = x.astype(np.float32)
    with np.errstate(all="ignore"):
        out = {"exp": lambda: np.exp(v), "rsqrt": lambda: np.float32(1) / np.sqrt(v),
               "recip": lambda: np.float32(1) / v}[op]()
    return out.astype(NUMPY_DTYPES[dtype])


def _windows(xp: Array, kh: int, kw: int, sh: int, sw: int) -> Array:
    return sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]


def _int_matmul(a: Array, b: Array) -> Array:
    """Exact integer product (modulo 2**64), through float64 BLAS when every partial sum is exact."""
    k = a.shape[-1]
    if a.size == 0 or b.size == 0:
        return np.matmul(a, b)
    bound = int(np.abs(a).max()) * int(np.abs(b).max()) * k
    if bound < _EXACT_F64:
        return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.int64)
    return np.matmul(a, b)


def softmax_q15(x: Array, table: Array) -> Array:
    """Integer softmax of each row of ``x`` (rows, cols) with the Q15 exponential ``table``
    (``aics.numerics.int_softmax``): int32 probabilities in Q0.15."""
    from aics.numerics.int_softmax import softmax_q15 as rows_q15

    return rows_q15(x, table.astype(np.int64), axis=-1).astype(np.int32)
