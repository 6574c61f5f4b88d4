"""The op table: every op the IR knows, its attributes type, operands and shape rule.

==================  =====================  ===============================================
op                  attrs                  operands (in order)
==================  =====================  ===============================================
input               NoAttrs                (none) a graph input
const               ConstAttrs             (none) data in ``Graph.params``
conv2d              Conv2dAttrs            x (N,C,H,W), weight (O,C/g,kh,kw), [bias (O)]
conv_transpose2d    ConvTranspose2dAttrs   x, weight (C,O/g,kh,kw), [bias]
linear              NoAttrs                x (...,I), weight (O,I), [bias (O)]
matmul              NoAttrs                a (...,M,K), b (...,K,N), batch dims broadcast
batch_norm          NormAttrs              x, weight, bias, running_mean, running_var
layer_norm          NormAttrs              x, [weight, bias] over the last ``axes`` dims
local_response_norm LrnAttrs               x
relu sigmoid tanh   NoAttrs                x
hardswish silu erf  NoAttrs                x
relu6               NoAttrs                x (clamp to [0, 6])
clip                ClipAttrs              x
leaky_relu elu      SlopeAttrs             x
gelu                GeluAttrs              x
prelu               NoAttrs                x, slope (C) or (1)
softmax             AxisAttrs              x
max_pool2d          Pool2dAttrs            x
avg_pool2d          Pool2dAttrs            x
adaptive_avg_pool2d AdaptivePoolAttrs      x
add sub mul div     NoAttrs                a, b (broadcast)
concat              AxisAttrs              x0, x1, ...
slice               SliceAttrs             x (split/chunk/indexing become slices)
reshape             ShapeAttrs             x (flatten, view, squeeze, unsqueeze)
expand              ShapeAttrs             x
permute             PermuteAttrs           x (transpose, channel shuffle)
pad                 PadAttrs               x
resize              ResizeAttrs            x (upsample / interpolate)
mean                ReduceAttrs            x
embedding           NoAttrs                ids (int), table (V,D)
lstm gru            RnnAttrs               x (N,T,I), per layer/direction w_ih, w_hh, [b_ih, b_hh]
==================  =====================  ===============================================

Multi-head attention has no op of its own: importers expand it into linear, reshape, permute,
matmul and softmax nodes, so every count and every backend sees its matmuls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from aics.ir import attrs as A
from aics.ir import shapes as S

InferFn = Callable[[Any, list[S.Shape], list[str]], tuple[S.Shape, str]]


@dataclass(frozen=True)
class OpSpec:
    name: str
    attrs: type
    infer: InferFn | None  # None for input/const: their shape is given
    min_inputs: int
    max_inputs: int | None  # None = variadic
    weighted: bool = False  # its outputs are "neurons" (conv, linear, rnn)


def _specs() -> dict[str, OpSpec]:
    one = dict(min_inputs=1, max_inputs=1)
    table = [
        OpSpec("input", A.NoAttrs, None, 0, 0),
        OpSpec("const", A.ConstAttrs, None, 0, 0),
        OpSpec("conv2d", A.Conv2dAttrs, S.conv2d, 2, 3, weighted=True),
        OpSpec("conv_transpose2d", A.ConvTranspose2dAttrs, S.conv_transpose2d, 2, 3, weighted=True),
        OpSpec("linear", A.NoAttrs, S.linear, 2, 3, weighted=True),
        OpSpec("matmul", A.NoAttrs, S.matmul, 2, 2),
        OpSpec("batch_norm", A.NormAttrs, S.batch_norm, 5, 5),
        OpSpec("layer_norm", A.NormAttrs, S.layer_norm, 1, 3),
        OpSpec("local_response_norm", A.LrnAttrs, S.same, **one),
        *(OpSpec(n, A.NoAttrs, S.same, **one)
          for n in ("relu", "relu6", "sigmoid", "tanh", "hardswish", "silu", "erf")),
        OpSpec("clip", A.ClipAttrs, S.same, **one),
        OpSpec("leaky_relu", A.SlopeAttrs, S.same, **one),
        OpSpec("elu", A.SlopeAttrs, S.same, **one),
        OpSpec("gelu", A.GeluAttrs, S.same, **one),
        OpSpec("prelu", A.NoAttrs, S.prelu, 2, 2),
        OpSpec("softmax", A.AxisAttrs, S.axis_same, **one),
        OpSpec("max_pool2d", A.Pool2dAttrs, S.pool2d, **one),
        OpSpec("avg_pool2d", A.Pool2dAttrs, S.pool2d, **one),
        OpSpec("adaptive_avg_pool2d", A.AdaptivePoolAttrs, S.adaptive_pool, **one),
        *(OpSpec(n, A.NoAttrs, S.broadcast, 2, 2) for n in ("add", "sub", "mul", "div")),
        OpSpec("concat", A.AxisAttrs, S.concat, 1, None),
        OpSpec("slice", A.SliceAttrs, S.slice_, **one),
        OpSpec("reshape", A.ShapeAttrs, S.reshape, **one),
        OpSpec("expand", A.ShapeAttrs, S.expand, **one),
        OpSpec("permute", A.PermuteAttrs, S.permute, **one),
        OpSpec("pad", A.PadAttrs, S.pad, **one),
        OpSpec("resize", A.ResizeAttrs, S.resize, **one),
        OpSpec("mean", A.ReduceAttrs, S.reduce, **one),
        OpSpec("embedding", A.NoAttrs, S.embedding, 2, 2),
        OpSpec("lstm", A.RnnAttrs, S.lstm, 3, None, weighted=True),
        OpSpec("gru", A.RnnAttrs, S.gru, 3, None, weighted=True),
    ]
    return {spec.name: spec for spec in table}


OPS: dict[str, OpSpec] = _specs()

# Ops that only move or view data: zero arithmetic, and free to fold into a neighbour's addressing.
DATA_MOVEMENT = frozenset({"concat", "slice", "reshape", "expand", "permute", "pad"})
ELEMENTWISE_UNARY = frozenset({
    "relu", "relu6", "sigmoid", "tanh", "hardswish", "silu", "erf", "clip", "leaky_relu", "elu", "gelu",
})
