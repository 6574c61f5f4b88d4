"""Per-op arithmetic: ``(macs, mults, adds, other)`` of one node, from shapes alone.

The definitions are in ``counts.py``. Data-movement ops (reshape, permute, concat, slice, pad,
expand, embedding lookup, nearest resize) do no arithmetic and are absent from ``RULES``.
"""

from __future__ import annotations

from math import prod
from typing import Callable

from aics.ir.graph import Node

Arith = tuple[int, int, int, int]  # macs, mults, adds, other
Rule = Callable[[Node, list[Node]], Arith]


def _dot(out: int, k: int, bias: bool) -> Arith:
    macs = out * k
    return macs, macs, out * (k - 1) + (out if bias else 0), 0


def conv2d(n: Node, ins: list[Node]) -> Arith:
    w = ins[1].shape
    return _dot(n.numel, w[1] * w[2] * w[3], len(ins) > 2)


def conv_transpose2d(n: Node, ins: list[Node]) -> Arith:
    # Every input element scatters into (C_out/g) * kh * kw outputs.
    w = ins[1].shape
    macs = ins[0].numel * w[1] * w[2] * w[3]
    bias = n.numel if len(ins) > 2 else 0
    return macs, macs, max(macs - n.numel, 0) + bias, 0


def linear(n: Node, ins: list[Node]) -> Arith:
    return _dot(n.numel, ins[1].shape[1], len(ins) > 2)


def matmul(n: Node, ins: list[Node]) -> Arith:
    return _dot(n.numel, ins[0].shape[-1], False)


def layer_norm(n: Node, ins: list[Node]) -> Arith:
    # mean (n adds), centre (n), variance (n mults + n adds), normalise (n mults), affine (n + n).
    affine = len(ins) > 1
    rows = n.numel // prod(ins[1].shape) if affine else n.numel // n.shape[-1]
    return 0, n.numel * (3 if affine else 2), n.numel * (4 if affine else 3), rows


def lrn(n: Node, ins: list[Node]) -> Arith:
    size = n.attrs.size
    return 0, n.numel * (size + 2), n.numel * size, n.numel


def _per_element(mults: int, adds: int, other: int) -> Rule:
    return lambda n, ins: (0, mults * n.numel, adds * n.numel, other * n.numel)


def max_pool(n: Node, ins: list[Node]) -> Arith:
    kh, kw = n.attrs.kernel
    return 0, 0, 0, n.numel * (kh * kw - 1)


def avg_pool(n: Node, ins: list[Node]) -> Arith:
    kh, kw = n.attrs.kernel
    return 0, n.numel, n.numel * (kh * kw - 1), 0


def reduce_mean(n: Node, ins: list[Node]) -> Arith:
    return 0, n.numel, ins[0].numel - n.numel, 0


def resize(n: Node, ins: list[Node]) -> Arith:
    # Bilinear: three lerps per output, each one mult and two adds (nearest is a copy).
    return (0, 3 * n.numel, 6 * n.numel, 0) if n.attrs.mode == "bilinear" else (0, 0, 0, 0)


def _rnn(gates: int, cell_mults: int, cell_adds: int, acts: int) -> Rule:
    def rule(n: Node, ins: list[Node]) -> Arith:
        a = n.attrs
        batch, steps, feat = ins[0].shape
        dirs = 2 if a.bidirectional else 1
        h = a.hidden_size
        macs = mults = adds = other = 0
        for layer in range(a.num_layers):
            i = feat if layer == 0 else h * dirs
            per_step = gates * h * (i + h)
            m = batch * steps * dirs
            macs += m * per_step
            mults += m * (per_step + cell_mults * h)
            adds += m * (gates * h * (i + h - 1) + (2 * gates * h if a.bias else 0) + cell_adds * h)
            other += m * acts * h
        return macs, mults, adds, other
    return rule


RULES: dict[str, Rule] = {
    "conv2d": conv2d, "conv_transpose2d": conv_transpose2d, "linear": linear, "matmul": matmul,
    "batch_norm": _per_element(1, 1, 0), "layer_norm": layer_norm, "local_response_norm": lrn,
    "relu": _per_element(0, 0, 1), "relu6": _per_element(0, 0, 2), "clip": _per_element(0, 0, 2),
    "leaky_relu": _per_element(1, 0, 1), "prelu": _per_element(1, 0, 1), "elu": _per_element(1, 1, 2),
    "sigmoid": _per_element(0, 1, 2), "tanh": _per_element(0, 0, 1), "erf": _per_element(0, 0, 1),
    "gelu": _per_element(3, 1, 1), "hardswish": _per_element(2, 1, 2), "silu": _per_element(1, 1, 2),
    "softmax": _per_element(0, 1, 2),
    "max_pool2d": max_pool, "avg_pool2d": avg_pool, "adaptive_avg_pool2d": reduce_mean, "mean": reduce_mean,
    "add": _per_element(0, 1, 0), "sub": _per_element(0, 1, 0), "mul": _per_element(1, 0, 0),
    "div": _per_element(0, 0, 1), "resize": resize,
    # LSTM cell: f*c, i*g, o*tanh(c) and c = f*c + i*g; 3 sigmoids + 2 tanh per unit.
    "lstm": _rnn(4, 3, 1, 5),
    # GRU cell: r*(W_hn h + b_hn), z*h, (1-z)*n; n + ..., 1-z, sum: 3 adds; 2 sigmoids + 1 tanh.
    "gru": _rnn(3, 3, 3, 3),
}
