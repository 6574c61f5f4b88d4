"""Emitters of the unweighted layers: activations (clamp or LUT), max / average / adaptive
average pooling, add / sub, reshape. Recipes as in ``aics.reference.int_elementwise``; tables and
multipliers are computed here by the very functions the reference builds them with.
"""

from __future__ import annotations

import numpy as np

from aics.backends.hls.cgen import INDENT, flat_index, guarded, in_range, indent, nest, tap
from aics.backends.hls.layer import (PIPELINE, Layer, LayerCtx, Loop, code_bounds, convert_expr,
                                     fixed_args, is_fixed)
from aics.numerics import lut as L
from aics.numerics import quantize_multiplier, quantize_multipliers
from aics.reference import qtensor as Q
from aics.reference import windows as W
from aics.reference.functions import UNARY


def _elementwise(ctx: LayerCtx, expr: str, mults: int = 0) -> Layer:
    """One pipelined pass over every element: ``out[idx] = expr`` (``{idx}`` in ``expr``)."""
    opens, idx, closes = nest(ctx.out.dims)
    inner = INDENT * len(opens)
    body = [*opens[:-1], opens[-1], PIPELINE, f"{inner}out{idx} = {expr.format(idx=idx)};", *closes]
    outer = ctx.out.size // ctx.out.dims[-1]
    return Layer([ctx.header(), *indent(body, 1), "}"], (Loop(outer, ctx.out.dims[-1], mults),))


def unary(ctx: LayerCtx) -> Layer:
    """relu, relu6, tanh, sigmoid, ...: the reference's LUT; a table that is a clamp of the
    input codes is emitted as the clamp (no memory), any other as a const table."""
    node, in_qp, out = ctx.node, ctx.ins[0].qp, ctx.out.qp
    r_in, r_out = Q.rep(in_qp), Q.rep(out)
    table = L.build_lut(lambda v: UNARY[node.op](v, node.attrs), r_in, r_out)
    lo, hi = L.code_range(r_in)
    codes = np.arange(lo, hi + 1)
    t_lo, t_hi = int(table.min()), int(table.max())
    if np.array_equal(table, np.clip(codes, t_lo, t_hi)):
        return _elementwise(ctx, f"({ctx.out.ctype})aics_clamp(in{{idx}}, {t_lo}, {t_hi})")
    t = ctx.const("lut", table, ctx.out.ctype)
    return _elementwise(ctx, f"{t}[in{{idx}} + {-lo}]")


def add_sub(ctx: LayerCtx) -> Layer:
    a, b = (buf.qp for buf in ctx.ins)
    if any(buf.dims != ctx.out.dims for buf in ctx.ins):
        raise ctx.unsupported("broadcasting operands are not emitted")
    sign = "+" if ctx.node.op == "add" else "-"
    out = ctx.out.qp
    if is_fixed(out):
        assert a.fixed is not None and b.fixed is not None and out.fixed is not None
        f = max(a.fixed.frac, b.fixed.frac)
        ea = f"(int64_t)in0{{idx}} * {1 << (f - a.fixed.frac)}"
        eb = f"(int64_t)in1{{idx}} * {1 << (f - b.fixed.frac)}"
        return _elementwise(ctx, f"({ctx.out.ctype})aics_fixed_cast({ea} {sign} {eb}, {f - out.fixed.frac}, "
                                 f"{fixed_args(out)})")
    qa, qb, qo = Q.affine(a), Q.affine(b), Q.affine(out)
    left = 20 if {qa.dtype, qb.dtype, qo.dtype} == {"int8"} else 15
    twice_max = 2.0 * max(qa.scale, qb.scale)
    (ma, sa), (mb, sb) = quantize_multiplier(qa.scale / twice_max), quantize_multiplier(qb.scale / twice_max)
    mo, so = quantize_multiplier(twice_max / ((1 << left) * qo.scale))
    lo, hi = code_bounds(out)
    i32 = f"{-(2**31)}, {2**31 - 1}"
    ea = f"aics_rescale((int64_t)in0{{idx}} - {qa.zero_point}, {left}, {ma}, {sa}, 0, {i32})"
    eb = f"aics_rescale((int64_t)in1{{idx}} - {qb.zero_point}, {left}, {mb}, {sb}, 0, {i32})"
    raw = f"aics_clamp({ea} {sign} {eb}, {i32})"
    return _elementwise(ctx, f"({ctx.out.ctype})aics_rescale({raw}, 0, {mo}, {so}, {qo.zero_point}, {lo}, {hi})", 3)


def reshape(ctx: LayerCtx) -> Layer:
    """Codes move in row-major order (flatten); converted when the params differ."""
    value = convert_expr("in" + flat_index(ctx.ins[0].dims, "i"), ctx.ins[0].qp, ctx.out.qp, ctx)
    body = [f"for (int i = 0; i < {ctx.out.size}; i++) {{", PIPELINE,
            f"{INDENT}out{flat_index(ctx.out.dims, 'i')} = ({ctx.out.ctype}){value};", "}"]
    return Layer([ctx.header(), *indent(body, 1), "}"], (Loop(1, ctx.out.size),))


def _window_loops(ctx: LayerCtx, kernel: tuple[int, int], first: list[str], step: str, last: str) -> Layer:
    """c / oy / ox loops around a pipelined kernel window whose in-range taps run ``step`` (the
    ceil_mode overflow and the padding are skipped by the bound checks)."""
    at = ctx.node.attrs
    c, h, w = ctx.ins[0].dims
    _, ho, wo = ctx.out.dims
    (sh, sw), (dh, dw), (top, _, left, _) = at.stride, at.dilation, at.padding
    body = [f"for (int c = 0; c < {c}; c++) {{",
            f"{INDENT}for (int oy = 0; oy < {ho}; oy++) {{",
            f"{INDENT * 2}for (int ox = 0; ox < {wo}; ox++) {{",
            *indent(first, 3),
            f"{INDENT * 3}for (int ky = 0; ky < {kernel[0]}; ky++) {{",
            f"{INDENT * 4}for (int kx = 0; kx < {kernel[1]}; kx++) {{",
            PIPELINE,
            f"{INDENT * 5}const int iy = {tap('oy', sh, top, 'ky', dh)};",
            f"{INDENT * 5}const int ix = {tap('ox', sw, left, 'kx', dw)};",
            *guarded(in_range("iy", h, top, ho, sh, (kernel[0] - 1) * dh + 1)
                     + in_range("ix", w, left, wo, sw, (kernel[1] - 1) * dw + 1), step, 5),
            f"{INDENT * 4}}}", f"{INDENT * 3}}}",
            f"{INDENT * 3}out[c][oy][ox] = ({ctx.out.ctype})({last});",
            f"{INDENT * 2}}}", f"{INDENT}}}", "}"]
    return Layer([ctx.header(), *indent(body, 1), "}"], (Loop(c * ho * wo, kernel[0] * kernel[1]),))


def max_pool2d(ctx: LayerCtx) -> Layer:
    """Padding never wins: out-of-range taps are skipped; the maximum is then converted."""
    in_qp = ctx.ins[0].qp
    low = code_bounds(in_qp)[0]
    last = convert_expr("m", in_qp, ctx.out.qp, ctx)
    return _window_loops(ctx, ctx.node.attrs.kernel, [f"int32_t m = {low};"],
                         "m = in[c][iy][ix] > m ? in[c][iy][ix] : m;", last)


def _average(ctx: LayerCtx, counts: np.ndarray) -> tuple[str, str]:
    """(centred read of ``in[c][iy][ix]``, finishing expression of ``acc`` at ``[oy][ox]``)."""
    in_qp, out = ctx.ins[0].qp, ctx.out.qp
    cnt = ctx.const("count", counts)
    if is_fixed(out):
        assert in_qp.fixed is not None and out.fixed is not None
        frac, of = in_qp.fixed.frac, out.fixed
        return "in[c][iy][ix]", (f"aics_fixed_div(acc, {cnt}[oy][ox], {max(of.frac - frac, 0)}, "
                                 f"{max(frac - of.frac, 0)}, {fixed_args(out)})")
    zp = Q.affine(in_qp).zero_point
    read = f"(int32_t)in[c][iy][ix] {'-' if zp >= 0 else '+'} {abs(zp)}"
    if ctx.node.op == "avg_pool2d" and in_qp == out:
        return read, f"aics_rounding_divide(acc + {cnt}[oy][ox] * {zp}, {cnt}[oy][ox])"
    lo, hi = code_bounds(in_qp)
    k = Q.preshift(int(counts.max()) * (hi - lo))
    ratio = Q.affine(in_qp).scale / Q.affine(out).scale / counts.astype(np.float64)
    mult, shift = quantize_multipliers(ratio / 2.0**k)
    m, s = ctx.const("m", mult, "int32_t"), ctx.const("s", shift, "int8_t")
    olo, ohi = code_bounds(out)
    return read, f"aics_rescale(acc, {k}, {m}[oy][ox], {s}[oy][ox], {Q.affine(out).zero_point}, {olo}, {ohi})"


def avg_pool2d(ctx: LayerCtx) -> Layer:
    at = ctx.node.attrs
    _, h, w = ctx.ins[0].dims
    counts = W.pool_divisors(h, w, at)
    read, last = _average(ctx, counts)
    return _window_loops(ctx, at.kernel, ["int64_t acc = 0;"], f"acc += {read};", last)


def adaptive_avg_pool2d(ctx: LayerCtx) -> Layer:
    """PyTorch's bins (start floor(i*H/Ho), end ceil((i+1)*H/Ho)) as const bound tables; the
    global pool of the seeds' ``avgpool`` is the 1x1 case."""
    c, h, w = ctx.ins[0].dims
    _, ho, wo = ctx.out.dims
    (hs, he), (ws, we) = W.adaptive_bins(h, ho), W.adaptive_bins(w, wo)
    read, last = _average(ctx, (he - hs)[:, None] * (we - ws)[None, :])
    ys, ye, xs, xe = (ctx.const(n, v) for n, v in (("ys", hs), ("ye", he), ("xs", ws), ("xe", we)))
    body = [f"for (int c = 0; c < {c}; c++) {{",
            f"{INDENT}for (int oy = 0; oy < {ho}; oy++) {{",
            f"{INDENT * 2}for (int ox = 0; ox < {wo}; ox++) {{",
            f"{INDENT * 3}int64_t acc = 0;",
            f"{INDENT * 3}for (int iy = {ys}[oy]; iy < {ye}[oy]; iy++) {{",
            f"{INDENT * 4}for (int ix = {xs}[ox]; ix < {xe}[ox]; ix++) {{",
            PIPELINE,
            f"{INDENT * 5}acc += {read};",
            f"{INDENT * 4}}}", f"{INDENT * 3}}}",
            f"{INDENT * 3}out[c][oy][ox] = ({ctx.out.ctype})({last});",
            f"{INDENT * 2}}}", f"{INDENT}}}", "}"]
    window = int((he - hs).max()) * int((we - ws).max())
    return Layer([ctx.header(), *indent(body, 1), "}"], (Loop(c * ho * wo, window),))
