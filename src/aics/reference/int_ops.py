"""Integer semantics of the IR's ops: the golden recipes the DLP simulator and HLS C reproduce.

Each node computes in one of three ways (``compute_mode``), shown in ``Executor.modes``:

* ``"int"``: every tensor it reads and writes is affine int8/int16 (TFLite int8 spec);
* ``"fixed"``: every tensor is ``FixedType`` codes (HLS ``ap_fixed`` semantics);
* ``"float"``: its inputs are dequantized (``qtensor.to_real``: ``kernels.cast``), it runs the
  float32 op (``float_ops``) and its result is quantized to its output params (``qtensor.quantize``:
  ``kernels.cast``, half to even). This is the recipe of an unfolded batch_norm and of layer_norm,
  written in ``functions`` as float32 ``kernels.reduce`` / ``unary`` / elementwise steps that the
  DLP's vector unit replays in the same order; of local_response_norm, div, bilinear resize and
  lstm/gru, which run on the host CPU; and of any op whose tensors mix representations or stay
  float (mixed precision: host CPU too).

Notation: q codes, zp zero points, s scales, M(r) = ``quantize_multiplier(r)`` (32-bit multiplier
and shift). Two requantizations, both ending in +zp_out, the activation clamp and saturation:

* RQw(acc, r) = ``requantize(acc, M(r), zp_out, bias)``: TFLite's conv/FC epilogue (the DLP's
  ``requant`` instruction): wrap32(acc + bias), ``multiply_by_quantized_multiplier``;
* RQ(acc, r) = ``qtensor.requantizer``: ``kernels.rescale(acc, 0, k, M(r / 2**k), zp_out)``, the
  accumulator first shifted left by k = min(20, 30 - bits(|acc| bound)) as TFLite ADD does, so the
  result is the real value rounded to nearest (ties away) up to ~2**-20 LSB (the DLP's ``rescale``).

F.cast(acc, f) = ``FixedType.cast`` of a code with f fractional bits (``ap_fixed`` assignment).

=======================  =====================================================  ==============================
op                       int (affine int8/int16)                                fixed (FixedType)
=======================  =====================================================  ==============================
conv2d, linear, matmul,  acc = sum (q_x - zp_x) * (q_w - zp_w) exact, wrapped   acc = sum q_x * q_w exact in
conv_transpose2d         to int32 (int16 x int16 can overflow: use 16x8);       int64 (frac f_x + f_w) + bias
                         RQw(acc, s_x s_w[c] / s_out), bias int32 =             aligned; F.cast(acc, f_x+f_w)
                         round_half_away(b / (s_x s_w[c])) (``bias_codes``)
add, sub                 TFLite ADD: each input ``rescale``d, (q - zp) << 20      align both to the larger frac,
                         (15 if any operand is int16) times M(s_i / 2 max s),    add exactly, F.cast
                         added in int32, ``rescale``d by M(2 max s / (2**20 s_out))
mul                      RQ((q_a - zp_a) (q_b - zp_b), s_a s_b / s_out)          q_a q_b, F.cast(., f_a + f_b)
relu relu6 clip sigmoid  LUT over all 2**8 / 2**16 input codes (``numerics.lut``)  LUT over all 2**width codes,
tanh hardswish silu erf  lut[q] = round_half_away(f(s_in (q - zp_in)) / s_out)    out = the output FixedType's
gelu leaky_relu elu      + zp_out, saturated; relu with equal params is            quantize of f (same builder)
prelu                    max(q, zp); PReLU per channel: one LUT per channel
softmax                  ``numerics.int_softmax``: e = exp_lut[max - q] (Q15),   same; F.cast(p, 15)
                         p = rounding_divide(e << 15, row sum) (Q0.15);
                         RQ(p, 2**-15 / s_out)
max_pool2d               max of codes (padding never wins), then convert          same
avg_pool2d,              acc = sum (q - zp) over each window (PyTorch's divisor  sum q; the exact quotient
adaptive_avg_pool2d,     ``count``: padding per count_include_pad, never the     sum / count assigned with the
mean                     ceil_mode overflow); RQ(acc, s_in / (s_out count)),      output's rounding and
                         a multiplier per distinct count (TFLite MEAN);           overflow
                         avg_pool2d with equal in/out params: TFLite
                         AVERAGE_POOL_2D = ``kernels.pool2d``:
                         rounding_divide(acc + count zp, count)
concat slice reshape     convert each input to the output params,                 F.cast, then move codes
permute expand pad       RQ(q - zp_in, s_in / s_out) (nothing when equal),
resize(nearest)          then move codes; constant pad value quantized
embedding                gather table codes, convert                               same
=======================  =====================================================  ==============================
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from aics.errors import QuantizationError
from aics.ir.graph import Node
from aics.ir.quant import QuantParams
from aics.numerics import quantize_multipliers, requantize, round_half_away, saturate
from aics.reference import qtensor as Q
from aics.reference import windows as W
from aics.reference.float_ops import run_float
from aics.reference.functions import UNARY
from aics.reference.int_elementwise import ELEMENTWISE_BUILDERS

NodeFn = Callable[[list[np.ndarray]], np.ndarray]
FLOAT_RECIPE = frozenset({"batch_norm", "layer_norm", "local_response_norm", "div", "lstm", "gru"})
WEIGHTED = frozenset({"conv2d", "conv_transpose2d", "linear", "matmul"})
_LUT_OPS = frozenset(UNARY) | {"prelu", "softmax"}
_MAX_LUT_CODES = 1 << 16


def _folded_slot(node: Node, idx: int) -> bool:
    """Inputs folded into a recipe rather than read as tensors: biases, PReLU slopes, token ids."""
    return ((node.op in ("conv2d", "conv_transpose2d", "linear") and idx == 2)
            or (node.op == "prelu" and idx == 1) or (node.op == "embedding" and idx == 0))


def compute_mode(node: Node, view: Q.QuantView) -> str:
    """How ``node`` computes in integer numerics: "int", "fixed" or "float" (module docstring)."""
    if node.op in FLOAT_RECIPE or (node.op == "resize" and node.attrs.mode != "nearest"):
        return "float"
    fam = Q.family(view.qp(node.name))
    if fam == "float":
        return "float"
    for idx, name in enumerate(node.inputs):
        if _folded_slot(node, idx):
            continue
        qp = view.qp(name)
        if Q.family(qp) != fam:
            return "float"
        assert qp is not None
        if qp.per_channel and not (node.op in WEIGHTED and idx == 1):
            return "float"
    if node.op in _LUT_OPS:
        in_qp = view.qp(node.inputs[0])
        assert in_qp is not None
        lo, hi = Q.code_range(in_qp)
        if hi - lo + 1 > _MAX_LUT_CODES:
            return "float"
    return fam


def build_int_node(node: Node, view: Q.QuantView) -> tuple[NodeFn, str]:
    """The function computing ``node`` on its inputs' executor values, and its compute mode."""
    mode = compute_mode(node, view)
    if mode == "float":
        return _float_recipe(node, view), mode
    if node.op in WEIGHTED:
        return _weighted(node, view, mode), mode
    return ELEMENTWISE_BUILDERS[node.op](node, view), mode


def _float_recipe(node: Node, view: Q.QuantView) -> NodeFn:
    in_qps = [view.qp(i) for i in node.inputs]
    out = view.qp(node.name)

    def fn(xs: list[np.ndarray]) -> np.ndarray:
        y = run_float(node.op, node.attrs, [Q.to_real(x, qp) for x, qp in zip(xs, in_qps)])
        return Q.quantize(y, out) if out is not None else y
    return fn


def _scales(qp: QuantParams) -> np.ndarray:
    return np.asarray(qp.scale, dtype=np.float64)


def bias_codes(node: Node, view: Q.QuantView) -> np.ndarray | None:
    """The integer bias of a conv/linear node, added to its accumulator.

    int: int32 codes with scale s_x * s_w[c]: integer data as given, float data rounded half away
    from zero and saturated. fixed: codes at the accumulator's frac f_x + f_w (a bias with its own
    FixedType is quantized with it, then shifted; without one it is rounded half away)."""
    if len(node.inputs) < 3:
        return None
    x_qp, w_qp, b_name = view.qp(node.inputs[0]), view.qp(node.inputs[1]), node.inputs[2]
    assert x_qp is not None and w_qp is not None
    data = np.asarray(view.graph.params[b_name])
    b_qp = view.graph.quant.get(b_name)
    if x_qp.dtype == "fixed":
        assert x_qp.fixed is not None and w_qp.fixed is not None
        frac = x_qp.fixed.frac + w_qp.fixed.frac
        if b_qp is not None and b_qp.dtype == "fixed":
            assert b_qp.fixed is not None
            codes = Q.quantize_const(data, b_qp, f"bias '{b_name}'").astype(np.int64)
            drop = b_qp.fixed.frac - frac
            return codes >> drop if drop > 0 else codes << -drop
        return round_half_away(data.astype(np.float64) * 2.0**frac).astype(np.int64)
    if data.dtype.kind in "iu":
        return data.astype(np.int64)
    acc_scale = x_qp.scale[0] * _scales(w_qp)
    if b_qp is not None and b_qp.dtype == "int32" and not np.allclose(_scales(b_qp), acc_scale, rtol=1e-6):
        raise QuantizationError(f"bias '{b_name}' has scale {b_qp.scale[:3]}..., expected s_in * s_w")
    return saturate(round_half_away(data.astype(np.float64) / acc_scale), "int32")


def _accumulate(node: Node, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The exact integer accumulator of a weighted op on centred codes (float64-exact BLAS)."""
    if node.op == "conv2d":
        k = w[0].size
    elif node.op == "conv_transpose2d":
        k = w.shape[0] // node.attrs.groups * w.shape[2] * w.shape[3]
    else:
        k = x.shape[-1]
    W.exact_int(float(np.abs(x).max(initial=0)) * float(np.abs(w).max(initial=0)) * k)
    xf, wf = x.astype(np.float64), w.astype(np.float64)
    if node.op == "conv2d":
        acc = W.conv2d(xf, wf, node.attrs)
    elif node.op == "conv_transpose2d":
        acc = W.conv_transpose2d(xf, wf, node.attrs)
    elif node.op == "linear":
        acc = xf @ wf.T
    else:
        acc = np.matmul(xf, wf)
    return acc.astype(np.int64)


def _weight_axis(node: Node, w_rank: int) -> int:
    """The weight axis that per-channel params must follow: the output channels."""
    if node.op == "conv_transpose2d":
        return 1 if node.attrs.groups == 1 else -1
    return w_rank - 1 if node.op == "matmul" else 0


def _weighted(node: Node, view: Q.QuantView, mode: str) -> NodeFn:
    x_qp, w_qp, out = (view.qp(n) for n in (node.inputs[0], node.inputs[1], node.name))
    assert x_qp is not None and w_qp is not None and out is not None
    w_name = node.inputs[1]
    w_const = view.const(w_name).astype(np.int64) if view.graph[w_name].op == "const" else None
    if w_qp.per_channel and w_qp.axis != _weight_axis(node, len(view.graph[w_name].shape)):
        raise QuantizationError(f"node '{node.name}': weight '{w_name}' is per-channel along axis "
                                f"{w_qp.axis}, not along its output channels")
    chan = (1, -1, 1, 1) if node.op in ("conv2d", "conv_transpose2d") else (-1,)
    bias = bias_codes(node, view)
    b = 0 if bias is None else bias.reshape(chan)

    def weights(xs: list[np.ndarray]) -> np.ndarray:
        return w_const if w_const is not None else xs[1].astype(np.int64)

    if mode == "fixed":
        assert x_qp.fixed is not None and w_qp.fixed is not None and out.fixed is not None
        frac, out_t = x_qp.fixed.frac + w_qp.fixed.frac, out.fixed
        return lambda xs: Q.as_codes(out_t.cast(_accumulate(node, xs[0].astype(np.int64), weights(xs)) + b, frac), out)

    zp_x = x_qp.zero_point[0]
    zp_w = np.asarray(w_qp.zero_point, dtype=np.int64).reshape(Q.channel_shape(w_qp, len(view.graph[w_name].shape)))
    if node.op != "matmul" and zp_w.any():
        raise QuantizationError(f"node '{node.name}': weight '{w_name}' must be symmetric (zero point 0)")
    out_a = Q.affine(out)
    mult, shift = quantize_multipliers(x_qp.scale[0] * _scales(w_qp) / out_a.scale)
    mult, shift = mult.reshape(chan), shift.reshape(chan)
    lo, hi = Q.code_range(out)

    def int_fn(xs: list[np.ndarray]) -> np.ndarray:
        acc = _accumulate(node, xs[0].astype(np.int64) - zp_x, weights(xs) - zp_w)
        return Q.as_codes(requantize(acc, mult, shift, out_a.zero_point, b, lo, hi, out.dtype), out)
    return int_fn
