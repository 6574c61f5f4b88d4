"""Integer builders of the non-weighted ops (recipes in the table of ``aics.reference.int_ops``).

A builder takes a node whose tensors are all affine ("int") or all fixed point ("fixed") and
returns the function from its inputs' codes to its output codes; LUTs, multipliers and shifts are
computed once here, at build time, exactly as a compiler would put them in a program.
"""

from __future__ import annotations

from math import prod
from typing import Callable

import numpy as np

from aics.ir.graph import Node
from aics.ir.quant import QuantParams
from aics.numerics import FixedType, kernels, quantize_multiplier, rounding_divide
from aics.numerics import int_softmax as SM
from aics.numerics import lut as L
from aics.reference import qtensor as Q
from aics.reference import windows as W
from aics.reference.float_ops import FLOAT_OPS, check_ids
from aics.reference.functions import UNARY

NodeFn = Callable[[list[np.ndarray]], np.ndarray]
Builder = Callable[[Node, Q.QuantView], NodeFn]


def _qps(node: Node, view: Q.QuantView) -> tuple[list[QuantParams], QuantParams]:
    """The params of the node's inputs and output (all integer: ``compute_mode`` checked it)."""
    ins = [q for q in (view.qp(i) for i in node.inputs) if q is not None]
    out = view.qp(node.name)
    assert out is not None and len(ins) == len(node.inputs)
    return ins, out


def fixed_quotient(total: np.ndarray, count: np.ndarray | int, frac: int, out: FixedType) -> np.ndarray:
    """The exact quotient ``total / count`` (codes with ``frac`` fractional bits) assigned to ``out``:
    trn floors, rnd rounds half up (ties toward +inf), then wrap or saturation (ap_fixed)."""
    up = max(out.frac - frac, 0)
    num = np.asarray(total, dtype=np.int64) << up
    den = np.asarray(count, dtype=np.int64) << max(frac - out.frac, 0)
    q = np.floor_divide(2 * num + den, 2 * den) if out.rounding == "rnd" else np.floor_divide(num, den)
    return out.apply_overflow(q)


def _lut(node: Node, view: Q.QuantView) -> NodeFn:
    in_qp, out = view.qp(node.inputs[0]), view.qp(node.name)  # a PReLU slope is folded, not read
    assert in_qp is not None and out is not None
    r_in, r_out = Q.rep(in_qp), Q.rep(out)
    if node.op != "prelu":
        f = UNARY[node.op]
        table = L.build_lut(lambda v: f(v, node.attrs), r_in, r_out)
        return lambda xs: Q.as_codes(L.apply_lut(xs[0], table, r_in), out)
    slope = Q.to_real(view.const(node.inputs[1]), view.qp(node.inputs[1])).astype(np.float64).ravel()
    tables = np.stack([L.build_lut(_leaky(a), r_in, r_out) for a in slope])
    if len(slope) == 1:
        return lambda xs: Q.as_codes(L.apply_lut(xs[0], tables[0], r_in), out)
    return lambda xs: Q.as_codes(L.apply_channel_luts(xs[0], tables, r_in, axis=1), out)


def _leaky(slope: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda v: np.where(v >= 0, v, v * slope)


def _frac(qp: QuantParams) -> int:
    assert qp.fixed is not None
    return qp.fixed.frac


def _span(qp: QuantParams) -> int:
    """The largest |q - zp| difference of codes: a static accumulator bound."""
    lo, hi = Q.code_range(qp)
    return hi - lo


def _step(qp: QuantParams) -> float:
    """The real value of one code step."""
    return qp.fixed.lsb if qp.fixed is not None else Q.affine(qp).scale


def _softmax(node: Node, view: Q.QuantView) -> NodeFn:
    ins, out = _qps(node, view)
    lo, hi = Q.code_range(ins[0])
    table = SM.exp_table(_step(ins[0]), hi - lo + 1)
    axis = node.attrs.axis
    if out.fixed is not None:
        out_t = out.fixed
        return lambda xs: Q.as_codes(out_t.cast(SM.softmax_q15(xs[0], table, axis), SM.PROB_FRAC), out)
    rq = Q.requantizer(2.0**-SM.PROB_FRAC / Q.affine(out).scale, 1 << SM.PROB_FRAC, out)
    return lambda xs: rq(SM.softmax_q15(xs[0], table, axis))


def _add_sub(node: Node, view: Q.QuantView) -> NodeFn:
    ins, out = _qps(node, view)
    op = node.op
    if out.fixed is not None:
        fa, fb = _frac(ins[0]), _frac(ins[1])
        f, out_t = max(fa, fb), out.fixed

        def fixed_fn(xs: list[np.ndarray]) -> np.ndarray:
            a = xs[0].astype(np.int64) << (f - fa)
            b = xs[1].astype(np.int64) << (f - fb)
            return Q.as_codes(out_t.cast(a + b if op == "add" else a - b, f), out)
        return fixed_fn
    a, b, o = Q.affine(ins[0]), Q.affine(ins[1]), Q.affine(out)
    left = 20 if {a.dtype, b.dtype, o.dtype} == {"int8"} else 15
    twice_max = 2.0 * max(a.scale, b.scale)
    ma, mb = quantize_multiplier(a.scale / twice_max), quantize_multiplier(b.scale / twice_max)
    mo = quantize_multiplier(twice_max / ((1 << left) * o.scale))
    lo, hi = Q.code_range(out)
    i32 = (-(2**31), 2**31 - 1)

    def int_fn(xs: list[np.ndarray]) -> np.ndarray:
        sa = kernels.rescale(xs[0], a.zero_point, left, *ma, 0, *i32, "int32")
        sb = kernels.rescale(xs[1], b.zero_point, left, *mb, 0, *i32, "int32")
        raw = kernels.eltwise(op, sa, sb, "int32")
        return Q.as_codes(kernels.rescale(raw, 0, 0, *mo, o.zero_point, lo, hi, out.dtype), out)
    return int_fn


def _mul(node: Node, view: Q.QuantView) -> NodeFn:
    ins, out = _qps(node, view)
    if out.fixed is not None:
        f, out_t = _frac(ins[0]) + _frac(ins[1]), out.fixed
        return lambda xs: Q.as_codes(out_t.cast(xs[0].astype(np.int64) * xs[1].astype(np.int64), f), out)
    a, b = Q.affine(ins[0]), Q.affine(ins[1])
    bound = _span(ins[0]) * _span(ins[1])
    rq = Q.requantizer(a.scale * b.scale / Q.affine(out).scale, bound, out)
    return lambda xs: rq((xs[0].astype(np.int64) - a.zero_point) * (xs[1].astype(np.int64) - b.zero_point))


Sums = Callable[[Node, np.ndarray], np.ndarray]
Counts = Callable[[Node, tuple[int, ...]], np.ndarray]


def _averaging(sums: Sums, counts: Counts, pool: bool = False) -> Builder:
    """avg pool / adaptive avg pool / mean: ``sums(node, x)`` gives the window sums of the centred
    codes, ``counts(node, in_shape)`` their divisors (static).

    int: RQ(acc, s_in / (s_out count)), one rounding with a multiplier per divisor (TFLite MEAN).
    An average pool whose output params equal its input's is TFLite's AVERAGE_POOL_2D instead, the
    DLP's ``pool`` instruction (``kernels.pool2d``): ``rounding_divide`` of the raw-code window sum
    (counted padding holding zp) by the count. fixed: the exact quotient assigned to the output."""
    def build(node: Node, view: Q.QuantView) -> NodeFn:
        ins, out = _qps(node, view)
        count = counts(node, view.graph[node.inputs[0]].shape)
        if out.fixed is not None:
            frac, out_t = _frac(ins[0]), out.fixed
            return lambda xs: Q.as_codes(fixed_quotient(sums(node, xs[0].astype(np.int64)), count, frac, out_t), out)
        zp = Q.affine(ins[0]).zero_point
        if pool and ins[0] == out:
            return lambda xs: Q.as_codes(rounding_divide(sums(node, xs[0].astype(np.int64) - zp) + count * zp, count),
                                         out)
        bound = int(np.max(count)) * _span(ins[0])
        rq = Q.requantizer(Q.affine(ins[0]).scale / Q.affine(out).scale / np.asarray(count, dtype=np.float64),
                           bound, out)
        return lambda xs: rq(sums(node, xs[0].astype(np.int64) - zp))
    return build


def _avg_pool_sums(node: Node, x: np.ndarray) -> np.ndarray:
    return W.pool_windows(x, node.attrs, 0).sum(axis=(-2, -1))


def _avg_pool_counts(node: Node, shape: tuple[int, ...]) -> np.ndarray:
    return W.pool_divisors(shape[2], shape[3], node.attrs)


def _adaptive_sums(node: Node, x: np.ndarray) -> np.ndarray:
    return W.adaptive_sums(x, node.attrs.output_size)[0]


def _adaptive_counts(node: Node, shape: tuple[int, ...]) -> np.ndarray:
    (hs, he), (ws, we) = (W.adaptive_bins(shape[2 + i], node.attrs.output_size[i]) for i in range(2))
    return (he - hs)[:, None] * (we - ws)[None, :]


def _mean_sums(node: Node, x: np.ndarray) -> np.ndarray:
    return x.sum(axis=node.attrs.axes, keepdims=node.attrs.keepdim)


def _mean_counts(node: Node, shape: tuple[int, ...]) -> np.ndarray:
    return np.array(prod(shape[i] for i in node.attrs.axes))


def _max_pool(node: Node, view: Q.QuantView) -> NodeFn:
    ins, out = _qps(node, view)
    low = Q.code_range(ins[0])[0]
    return lambda xs: Q.convert(W.pool_windows(xs[0], node.attrs, low).max(axis=(-2, -1)), ins[0], out)


def _movement(node: Node, view: Q.QuantView) -> NodeFn:
    """Data movement on codes: inputs converted to the output params first, then moved."""
    ins, out = _qps(node, view)
    op = node.op
    extra: list[int] = []
    if op == "pad" and node.attrs.mode == "constant":
        extra = [int(L.from_real(np.array([node.attrs.value]), Q.rep(out))[0])]

    def fn(xs: list[np.ndarray]) -> np.ndarray:
        moved = [Q.convert(x, q, out) for x, q in zip(xs, ins)]
        return Q.as_codes(FLOAT_OPS[op](node.attrs, *moved, *extra), out)
    return fn


def _embedding(node: Node, view: Q.QuantView) -> NodeFn:
    table_qp, out = view.qp(node.inputs[1]), view.qp(node.name)
    assert table_qp is not None and out is not None

    def fn(xs: list[np.ndarray]) -> np.ndarray:
        check_ids(xs[0], xs[1].shape[0])
        return Q.convert(xs[1][xs[0]], table_qp, out)
    return fn


ELEMENTWISE_BUILDERS: dict[str, Builder] = {
    **{op: _lut for op in UNARY}, "prelu": _lut,
    "softmax": _softmax,
    "add": _add_sub, "sub": _add_sub, "mul": _mul,
    "max_pool2d": _max_pool,
    "avg_pool2d": _averaging(_avg_pool_sums, _avg_pool_counts, pool=True),
    "adaptive_avg_pool2d": _averaging(_adaptive_sums, _adaptive_counts),
    "mean": _averaging(_mean_sums, _mean_counts),
    **{op: _movement for op in ("concat", "slice", "reshape", "expand", "permute", "pad", "resize")},
    "embedding": _embedding,
}
