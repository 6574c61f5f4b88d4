"""Shape and dtype inference, one function per op family.

Each rule takes the op's attributes and its inputs' shapes and dtypes and returns the output
(shape, dtype); it raises ``ShapeError`` with a message saying what does not fit (the caller adds
the node's name). Rules follow PyTorch's semantics (floor/ceil pooling, broadcasting).
"""

from __future__ import annotations

from math import ceil, prod
from typing import Any

from aics.errors import ShapeError
from aics.ir import attrs as A

Shape = tuple[int, ...]


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ShapeError(msg)


def _rank(shape: Shape, rank: int, what: str) -> None:
    _check(len(shape) == rank, f"{what} expects a rank-{rank} input, got shape {list(shape)}")


def same(_: Any, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    return shapes[0], dtypes[0]


def broadcast(_: Any, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        dims = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0} - {1}
        _check(len(dims) <= 1, f"cannot broadcast shapes {[list(s) for s in shapes]}")
        out.append(dims.pop() if dims else 1)
    return tuple(out), dtypes[0]


def _conv_out(size: int, k: int, s: int, pad: int, d: int) -> int:
    span = d * (k - 1) + 1
    _check(size + pad >= span, f"window {span} larger than padded input {size + pad}")
    return (size + pad - span) // s + 1


def conv2d(a: A.Conv2dAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    x, w = shapes[0], shapes[1]
    _rank(x, 4, "conv2d")
    _check(len(w) == 4, f"conv2d weight must be rank 4, got {list(w)}")
    _check(x[1] == w[1] * a.groups,
           f"input has {x[1]} channels but the weight expects {w[1] * a.groups}")
    _check(w[0] % a.groups == 0, f"{w[0]} output channels not divisible by groups={a.groups}")
    if len(shapes) > 2:
        _check(shapes[2] == (w[0],), f"bias shape {list(shapes[2])} != [{w[0]}]")
    t, b, l, r = a.padding
    ho = _conv_out(x[2], w[2], a.stride[0], t + b, a.dilation[0])
    wo = _conv_out(x[3], w[3], a.stride[1], l + r, a.dilation[1])
    return (x[0], w[0], ho, wo), dtypes[0]


def conv_transpose2d(a: A.ConvTranspose2dAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    x, w = shapes[0], shapes[1]
    _rank(x, 4, "conv_transpose2d")
    _check(x[1] == w[0], f"input has {x[1]} channels but the weight expects {w[0]}")
    out = [x[0], w[1] * a.groups]
    for i in range(2):
        size = (x[2 + i] - 1) * a.stride[i] - 2 * a.padding[i] + a.dilation[i] * (w[2 + i] - 1)
        out.append(size + a.output_padding[i] + 1)
    _check(min(out) > 0, f"non-positive output shape {out}")
    return tuple(out), dtypes[0]


def linear(_: A.NoAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    x, w = shapes[0], shapes[1]
    _check(len(x) >= 1 and x[-1] == w[1],
           f"input features {x[-1] if x else None} != weight in_features {w[1]}")
    return (*x[:-1], w[0]), dtypes[0]


def matmul(_: A.NoAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    a, b = shapes
    _check(len(a) >= 2 and len(b) >= 2, f"matmul needs rank >= 2 operands, got {list(a)} @ {list(b)}")
    _check(a[-1] == b[-2], f"matmul inner dims differ: {list(a)} @ {list(b)}")
    batch, _ = broadcast(None, [a[:-2], b[:-2]], dtypes)
    return (*batch, a[-2], b[-1]), dtypes[0]


def pool2d(a: A.Pool2dAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    x = shapes[0]
    _rank(x, 4, "pool2d")
    t, b, l, r = a.padding
    out = [x[0], x[1]]
    for i, (size, lo, hi) in enumerate(((x[2], t, b), (x[3], l, r))):
        k, s, d = a.kernel[i], a.stride[i], a.dilation[i]
        span = d * (k - 1) + 1
        num = size + lo + hi - span
        _check(num >= 0, f"pool window {span} larger than padded input {size + lo + hi}")
        o = (ceil(num / s) if a.ceil_mode else num // s) + 1
        if a.ceil_mode and (o - 1) * s >= size + lo:
            o -= 1  # PyTorch: the last window must start inside the input or left padding
        out.append(o)
    return tuple(out), dtypes[0]


def adaptive_pool(a: A.AdaptivePoolAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    x = shapes[0]
    _rank(x, 4, "adaptive_avg_pool2d")
    return (x[0], x[1], *a.output_size), dtypes[0]


def batch_norm(_: A.NormAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    x = shapes[0]
    _check(len(x) >= 2, f"batch_norm needs rank >= 2, got {list(x)}")
    for p in shapes[1:]:
        _check(p == (x[1],), f"batch_norm parameter shape {list(p)} != [{x[1]}]")
    return x, dtypes[0]


def layer_norm(a: A.NormAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    x = shapes[0]
    for p in shapes[1:]:
        _check(p == x[len(x) - a.axes:], f"layer_norm parameter shape {list(p)} != {list(x[-a.axes:])}")
    return x, dtypes[0]


def prelu(_: A.NoAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    x, slope = shapes
    _check(prod(slope) in (1, x[1] if len(x) > 1 else 1), f"prelu slope {list(slope)} does not fit {list(x)}")
    return x, dtypes[0]


def axis_same(a: A.AxisAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    _check(0 <= a.axis < len(shapes[0]), f"axis {a.axis} out of range for {list(shapes[0])}")
    return shapes[0], dtypes[0]


def concat(a: A.AxisAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    first = shapes[0]
    _check(0 <= a.axis < len(first), f"concat axis {a.axis} out of range for {list(first)}")
    for s in shapes[1:]:
        ok = len(s) == len(first) and all(s[i] == first[i] for i in range(len(s)) if i != a.axis)
        _check(ok, f"concat shapes differ off axis {a.axis}: {[list(x) for x in shapes]}")
    total = sum(s[a.axis] for s in shapes)
    return (*first[:a.axis], total, *first[a.axis + 1:]), dtypes[0]


def slice_(a: A.SliceAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    x = shapes[0]
    _check(0 <= a.axis < len(x), f"slice axis {a.axis} out of range for {list(x)}")
    n = len(range(a.start, min(a.end, x[a.axis]), a.step))
    _check(n > 0, f"empty slice [{a.start}:{a.end}:{a.step}] of axis {a.axis} (size {x[a.axis]})")
    return (*x[:a.axis], n, *x[a.axis + 1:]), dtypes[0]


def reshape(a: A.ShapeAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    _check(prod(a.shape) == prod(shapes[0]), f"cannot reshape {list(shapes[0])} to {list(a.shape)}")
    return a.shape, dtypes[0]


def expand(a: A.ShapeAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    out, _ = broadcast(None, [shapes[0], a.shape], dtypes)
    _check(out == a.shape, f"cannot expand {list(shapes[0])} to {list(a.shape)}")
    return out, dtypes[0]


def permute(a: A.PermuteAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    x = shapes[0]
    _check(sorted(a.perm) == list(range(len(x))), f"bad permutation {list(a.perm)} for {list(x)}")
    return tuple(x[p] for p in a.perm), dtypes[0]


def pad(a: A.PadAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    x = shapes[0]
    _check(len(a.pads) == 2 * len(x), f"pad needs {2 * len(x)} values, got {len(a.pads)}")
    return tuple(d + a.pads[2 * i] + a.pads[2 * i + 1] for i, d in enumerate(x)), dtypes[0]


def resize(a: A.ResizeAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    x = shapes[0]
    _rank(x, 4, "resize")
    return (x[0], x[1], *a.size), dtypes[0]


def reduce(a: A.ReduceAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    x = shapes[0]
    _check(all(0 <= ax < len(x) for ax in a.axes), f"reduce axes {list(a.axes)} out of range for {list(x)}")
    if a.keepdim:
        return tuple(1 if i in a.axes else d for i, d in enumerate(x)), dtypes[0]
    return tuple(d for i, d in enumerate(x) if i not in a.axes), dtypes[0]


def embedding(_: A.NoAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    ids, table = shapes
    _check(dtypes[0].startswith("int"), f"embedding ids must be integers, got {dtypes[0]}")
    return (*ids, table[1]), dtypes[1]


def rnn(a: A.RnnAttrs, shapes: list[Shape], dtypes: list[str], gates: int) -> tuple[Shape, str]:
    x = shapes[0]
    _rank(x, 3, "rnn (batch-first)")
    dirs = 2 if a.bidirectional else 1
    per = 4 if a.bias else 2
    _check(len(shapes) == 1 + per * a.num_layers * dirs,
           f"rnn expects {per * a.num_layers * dirs} weight inputs, got {len(shapes) - 1}")
    _check(shapes[1] == (gates * a.hidden_size, x[2]),
           f"rnn input size {x[2]} does not match w_ih {list(shapes[1])}")
    return (x[0], x[1], a.hidden_size * dirs), dtypes[0]


def lstm(a: A.RnnAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    return rnn(a, shapes, dtypes, gates=4)


def gru(a: A.RnnAttrs, shapes: list[Shape], dtypes: list[str]) -> tuple[Shape, str]:
    return rnn(a, shapes, dtypes, gates=3)
