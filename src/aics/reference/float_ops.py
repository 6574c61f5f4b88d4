"""Float32 semantics of every op in ``aics.ir.ops.OPS`` (PyTorch's definitions), vectorised numpy.

``FLOAT_OPS[op](attrs, *inputs)`` computes one node from its input arrays; inputs and outputs are
float32 except integer token ids. The integer executor also uses this table for the ops it runs
through float32 (host-only RNNs, mixed-precision float layers, the float recipes of norms).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from aics.errors import DataError
from aics.ir import attrs as A
from aics.reference import functions as fn
from aics.reference import rnn
from aics.reference import windows as W

F32 = np.float32
OpFn = Callable[..., np.ndarray]
_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "edge", "replicate": "edge",
              "wrap": "wrap", "circular": "wrap"}


def _channel(v: np.ndarray, ndim: int) -> np.ndarray:
    """A per-channel vector shaped to broadcast over axis 1 of a rank-``ndim`` tensor."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def conv2d(a: A.Conv2dAttrs, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    y = W.conv2d(x, w, a)
    return y + _channel(b, 4) if b is not None else y


def conv_transpose2d(a: A.ConvTranspose2dAttrs, x: np.ndarray, w: np.ndarray,
                     b: np.ndarray | None = None) -> np.ndarray:
    y = W.conv_transpose2d(x, w, a)
    return y + _channel(b, 4) if b is not None else y


def linear(_: A.NoAttrs, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    y = np.ascontiguousarray(x) @ w.T
    return y + b if b is not None else y


def max_pool2d(a: A.Pool2dAttrs, x: np.ndarray) -> np.ndarray:
    return W.pool_windows(x, a, -np.inf).max(axis=(-2, -1))


def avg_pool2d(a: A.Pool2dAttrs, x: np.ndarray) -> np.ndarray:
    sums = W.pool_windows(x, a, 0.0).sum(axis=(-2, -1), dtype=F32)
    return sums / W.pool_divisors(x.shape[2], x.shape[3], a).astype(F32)


def adaptive_avg_pool2d(a: A.AdaptivePoolAttrs, x: np.ndarray) -> np.ndarray:
    sums, counts = W.adaptive_sums(x.astype(np.float64), a.output_size)
    return (sums / counts).astype(F32)


def slice_(a: A.SliceAttrs, x: np.ndarray) -> np.ndarray:
    index = [slice(None)] * x.ndim
    index[a.axis] = slice(a.start, a.end, a.step)
    return x[tuple(index)]


def pad(a: A.PadAttrs, x: np.ndarray, value: Any = None) -> np.ndarray:
    """``value`` overrides ``a.value`` (the integer path pads with the quantized constant)."""
    widths = [(a.pads[2 * i], a.pads[2 * i + 1]) for i in range(x.ndim)]
    mode = _PAD_MODES[a.mode]
    if mode == "constant":
        return np.pad(x, widths, constant_values=a.value if value is None else value)
    return np.pad(x, widths, mode=mode)  # type: ignore[call-overload]


def resize(a: A.ResizeAttrs, x: np.ndarray) -> np.ndarray:
    h, w = x.shape[2:]
    if a.mode == "nearest":
        return x[:, :, W.nearest_index(h, a.size[0])[:, None], W.nearest_index(w, a.size[1])[None, :]]
    h0, h1, lh = W.linear_taps(h, a.size[0], a.align_corners)
    w0, w1, lw = W.linear_taps(w, a.size[1], a.align_corners)
    lh, lw = lh[:, None], lw[None, :]
    one = F32(1)
    top = x[:, :, h0[:, None], w0[None, :]] * (one - lw) + x[:, :, h0[:, None], w1[None, :]] * lw
    bottom = x[:, :, h1[:, None], w0[None, :]] * (one - lw) + x[:, :, h1[:, None], w1[None, :]] * lw
    return top * (one - lh) + bottom * lh


def mean(a: A.ReduceAttrs, x: np.ndarray) -> np.ndarray:
    return x.mean(axis=a.axes, keepdims=a.keepdim, dtype=F32)


def embedding(_: A.NoAttrs, ids: np.ndarray, table: np.ndarray) -> np.ndarray:
    check_ids(ids, table.shape[0])
    return table[ids]


def check_ids(ids: np.ndarray, vocab: int) -> None:
    if ids.size and (ids.min() < 0 or ids.max() >= vocab):
        raise DataError(f"embedding ids must be in [0, {vocab}), got values in [{ids.min()}, {ids.max()}]")


def _unary(op: str) -> OpFn:
    f = fn.UNARY[op]
    return lambda a, x: f(x, a)


FLOAT_OPS: dict[str, OpFn] = {
    "conv2d": conv2d,
    "conv_transpose2d": conv_transpose2d,
    "linear": linear,
    # contiguous operands keep numpy on BLAS (permuted views would take its slow generic loop)
    "matmul": lambda a, x, y: np.matmul(np.ascontiguousarray(x), np.ascontiguousarray(y)),
    "batch_norm": lambda a, x, w, b, m, v: fn.batch_norm(x, w, b, m, v, a.eps),
    "layer_norm": lambda a, x, w=None, b=None: fn.layer_norm(x, a.axes, a.eps, w, b),
    "local_response_norm": lambda a, x: fn.local_response_norm(x, a),
    **{op: _unary(op) for op in fn.UNARY},
    "prelu": lambda a, x, s: fn.prelu(x, s),
    "softmax": lambda a, x: fn.softmax(x, a.axis),
    "max_pool2d": max_pool2d,
    "avg_pool2d": avg_pool2d,
    "adaptive_avg_pool2d": adaptive_avg_pool2d,
    "add": lambda a, x, y: x + y,
    "sub": lambda a, x, y: x - y,
    "mul": lambda a, x, y: x * y,
    "div": lambda a, x, y: x / y,
    "concat": lambda a, *xs: np.concatenate(xs, axis=a.axis),
    "slice": slice_,
    "reshape": lambda a, x: x.reshape(a.shape),
    "expand": lambda a, x: np.broadcast_to(x, a.shape).copy(),
    "permute": lambda a, x: x.transpose(a.perm),
    "pad": pad,
    "resize": resize,
    "mean": mean,
    "embedding": embedding,
    "lstm": rnn.lstm,
    "gru": rnn.gru,
}


def run_float(op: str, attrs: Any, inputs: list[np.ndarray]) -> np.ndarray:
    """One node in float32 (integer token ids pass through untouched)."""
    with np.errstate(over="ignore", under="ignore"):
        out = FLOAT_OPS[op](attrs, *inputs)
    return out if out.dtype.kind in "iu" else out.astype(F32, copy=False)
