"""Elementwise functions and normalisations, PyTorch's definitions, written once for both paths.

The unary functions keep their argument's dtype: the float32 executor calls them on float32
tensors, and ``aics.numerics.lut`` calls them on float64 code grids to build the integer LUTs.
Batch norm and layer norm are written as the explicit float32 operation sequence that the integer
path also uses on dequantized rows (``aics.numerics.kernels.reduce`` / ``unary`` and elementwise
float32 steps), so that the DLP's vector unit can replay it and get the same bits.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from aics.ir import attrs as A
from aics.numerics import kernels

F32 = np.float32
_ERF64 = np.frompyfunc(math.erf, 1, 1)


def erf(x: np.ndarray) -> np.ndarray:
    """Error function. float64: ``math.erf`` per element (exact; LUT building, small grids).
    float32: Numerical Recipes' erfc Chebyshev fit (error < 1.2e-7, float32's resolution) in float32."""
    if x.dtype == np.float64:
        return _ERF64(x).astype(np.float64)
    z = np.abs(x)
    t = F32(1) / (F32(1) + F32(0.5) * z)
    poly = F32(0.17087277)
    for c in (-0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196,
              1.00002368, -1.26551223):
        poly = poly * t + F32(c)
    erfc = t * np.exp(poly - z * z)
    return np.sign(x) * (F32(1) - erfc)


def sigmoid(x: np.ndarray) -> np.ndarray:
    # tanh form: no overflow for large |x|.
    half = x.dtype.type(0.5)
    return half + half * np.tanh(half * x)


def gelu(x: np.ndarray, a: A.GeluAttrs) -> np.ndarray:
    one, half = x.dtype.type(1), x.dtype.type(0.5)
    if a.approximate == "tanh":
        c = x.dtype.type(math.sqrt(2.0 / math.pi))
        return half * x * (one + np.tanh(c * (x + x.dtype.type(0.044715) * x * x * x)))
    return half * x * (one + erf(x * x.dtype.type(1.0 / math.sqrt(2.0))))


def _elu(x: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(x > 0, x, x.dtype.type(alpha) * np.expm1(np.minimum(x, 0)))


def _hardswish(x: np.ndarray) -> np.ndarray:
    t = x.dtype.type
    return x * np.clip(x + t(3), t(0), t(6)) / t(6)


UnaryFn = Callable[[np.ndarray, Any], np.ndarray]

UNARY: dict[str, UnaryFn] = {
    "relu": lambda x, a: np.maximum(x, x.dtype.type(0)),
    "relu6": lambda x, a: np.clip(x, x.dtype.type(0), x.dtype.type(6)),
    "clip": lambda x, a: np.clip(x, x.dtype.type(a.min), x.dtype.type(a.max)),
    "sigmoid": lambda x, a: sigmoid(x),
    "tanh": lambda x, a: np.tanh(x),
    "hardswish": lambda x, a: _hardswish(x),
    "silu": lambda x, a: x * sigmoid(x),
    "erf": lambda x, a: erf(x),
    "gelu": gelu,
    "leaky_relu": lambda x, a: np.where(x >= 0, x, x * x.dtype.type(a.alpha)),
    "elu": lambda x, a: _elu(x, a.alpha),
}


def prelu(x: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """PReLU with one slope or one per channel (axis 1)."""
    s = slope.reshape(-1).astype(x.dtype)
    if s.size > 1:
        s = s.reshape((1, -1) + (1,) * (x.ndim - 2))
    return np.where(x >= 0, x, x * s)


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True, dtype=e.dtype)


def batch_norm_affine(weight: np.ndarray, bias: np.ndarray, mean: np.ndarray, var: np.ndarray,
                      eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Inference batch norm as one float32 multiply-add per element: (scale, shift) per channel,
    ``scale = weight * rsqrt(var + eps)``, ``shift = bias - mean * scale``."""
    inv: np.ndarray = kernels.unary(var.astype(F32) + F32(eps), "rsqrt", "fp32")
    scale: np.ndarray = weight.astype(F32) * inv
    return scale, bias.astype(F32) - mean.astype(F32) * scale


def batch_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, mean: np.ndarray, var: np.ndarray,
               eps: float) -> np.ndarray:
    scale, shift = batch_norm_affine(weight, bias, mean, var, eps)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return x * scale.reshape(shape) + shift.reshape(shape)


def layer_norm(x: np.ndarray, axes: int, eps: float, weight: np.ndarray | None = None,
               bias: np.ndarray | None = None) -> np.ndarray:
    """Layer norm over the last ``axes`` dims as float32 row operations, in this order:
    mean = sum(row) * (1/D); d = row - mean; var = sum(d*d) * (1/D); y = d * rsqrt(var + eps);
    y = y * weight + bias."""
    d_len = math.prod(x.shape[x.ndim - axes:])
    rows = x.reshape(-1, d_len).astype(F32)
    inv_d = F32(1.0 / d_len)
    sums: np.ndarray = kernels.reduce(rows, "sum", 1, "fp32")
    d = rows - (sums * inv_d)[:, None]
    squares: np.ndarray = kernels.reduce(d * d, "sum", 1, "fp32")
    var = squares * inv_d
    inv: np.ndarray = kernels.unary(var + F32(eps), "rsqrt", "fp32")
    y = d * inv[:, None]
    if weight is not None:
        y = y * weight.reshape(1, -1).astype(F32)
    if bias is not None:
        y = y + bias.reshape(1, -1).astype(F32)
    return y.reshape(x.shape)


def local_response_norm(x: np.ndarray, a: A.LrnAttrs) -> np.ndarray:
    """PyTorch's LRN: x / (k + alpha * avg_{size}(x^2 across channels, zero padded))^beta,
    the average dividing by ``size`` (padding counted)."""
    sq = x * x
    c = x.shape[1]
    padded = np.pad(sq, [(0, 0), (a.size // 2, (a.size - 1) // 2)] + [(0, 0)] * (x.ndim - 2))
    acc = np.zeros_like(sq)
    for i in range(a.size):  # a loop over the (small) window, not over pixels
        acc += padded[:, i:i + c]
    div = (acc / F32(a.size) * F32(a.alpha) + F32(a.k)) ** F32(a.beta)
    return x / div
