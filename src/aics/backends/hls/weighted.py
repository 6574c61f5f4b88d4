"""Emitters of the weighted layers: conv2d (direct or with a line buffer), conv_transpose2d,
linear. Loops are plain and output-stationary, as in the seeds' ``conv_last``; padding is a
condition on the input index, never a padded copy. Arithmetic follows ``aics.reference.int_ops``:
int8 accumulates centred codes exactly and requantizes with the single-rounding multiplier;
fixed point accumulates raw codes, adds the aligned bias and casts (``ap_fixed`` assignment).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aics.backends.hls.cgen import INDENT, guarded, in_range, indent, tap
from aics.backends.hls.layer import PIPELINE, Layer, LayerCtx, Loop, code_bounds, fixed_args, is_fixed
from aics.numerics import quantize_multipliers
from aics.reference import qtensor as Q
from aics.reference.int_ops import bias_codes

LINE_BUFFER_MAX_BITS = 1 << 20  # larger line buffers would not be "on chip" for a small FPGA


@dataclass(frozen=True)
class Arith:
    """How a weighted layer reads its input and finishes its accumulator (C snippets)."""

    weights: str  # C name of the weight array
    acc_t: str  # accumulator type
    zp: int  # input zero point subtracted on read (0 in fixed point)
    value_t: str  # type of a centred input value
    epilogue: str  # expression of ``acc`` and channel ``o`` giving the output code


def _arith(ctx: LayerCtx, reduction: int) -> Arith:
    node, view, out = ctx.node, ctx.view, ctx.out.qp
    x_qp = ctx.ins[0].qp
    w_name = node.inputs[1]
    if view.graph[w_name].op != "const":
        raise ctx.unsupported("its weights are not a constant")
    w_qp = view.qp(w_name)
    assert w_qp is not None
    w = view.const(w_name).astype(np.int64)
    bias = bias_codes(node, view)
    channels = ctx.out.dims[0] if node.op != "linear" else ctx.out.dims[-1]
    lo, hi = code_bounds(x_qp)
    if is_fixed(out):
        assert x_qp.fixed is not None and w_qp.fixed is not None and out.fixed is not None
        zp, frac = 0, x_qp.fixed.frac + w_qp.fixed.frac
        b = ctx.const("b", np.zeros(channels) if bias is None else bias)
        epilogue = f"(int64_t)acc + {b}[o], {frac - out.fixed.frac}, {fixed_args(out)}"
        epilogue = f"aics_fixed_cast({epilogue})"
        x_max = max(-lo, hi)
        b_max = 0 if bias is None else int(np.abs(bias).max(initial=0))
    else:
        if any(w_qp.zero_point):
            raise ctx.unsupported(f"weight '{w_name}' is not symmetric (zero point 0)")
        zp = Q.affine(x_qp).zero_point
        o = Q.affine(out)
        mult, shift = quantize_multipliers(x_qp.scale[0] * np.asarray(w_qp.scale, dtype=np.float64) / o.scale)
        mult, shift = np.broadcast_to(mult, (channels,)), np.broadcast_to(shift, (channels,))
        b = ctx.const("b", np.zeros(channels) if bias is None else bias, "int32_t")
        m, s = ctx.const("m", mult, "int32_t"), ctx.const("s", shift, "int8_t")
        olo, ohi = code_bounds(out)
        epilogue = f"aics_requantize(acc, {b}[o], {m}[o], {s}[o], {o.zero_point}, {olo}, {ohi})"
        x_max, b_max = max(hi - zp, zp - lo), 0
    bound = reduction * x_max * int(np.abs(w).max(initial=0)) + b_max
    acc_t = "int32_t" if bound < 2**31 else "int64_t"
    value_t = "int16_t" if max(hi - zp, zp - lo) < 2**15 else "int32_t"
    w_c = ctx.const("w", w, "int8_t" if int(np.abs(w).max(initial=0)) < 128 else "int16_t")
    return Arith(w_c, acc_t, zp, value_t, f"({ctx.out.ctype}){epilogue}")


def _read(a: Arith, access: str) -> str:
    if not a.zp:
        return access
    return f"(int32_t){access} {'-' if a.zp > 0 else '+'} {abs(a.zp)}"


def linear(ctx: LayerCtx) -> Layer:
    if len(ctx.ins[0].dims) != 1:
        raise ctx.unsupported("linear layers on inputs of rank > 2 are not emitted")
    (n_in,), (n_out,) = ctx.ins[0].dims, ctx.out.dims
    a = _arith(ctx, n_in)
    lines = [ctx.header(),
             f"{INDENT}for (int o = 0; o < {n_out}; o++) {{",
             f"{INDENT * 2}{a.acc_t} acc = 0;",
             f"{INDENT * 2}for (int i = 0; i < {n_in}; i++) {{",
             PIPELINE,
             f"{INDENT * 3}acc += ({a.acc_t})({_read(a, 'in[i]')}) * {a.weights}[o][i];",
             f"{INDENT * 2}}}",
             f"{INDENT * 2}out[o] = {a.epilogue};",
             f"{INDENT}}}", "}"]
    return Layer(lines, (Loop(n_out, n_in, 1),))


def conv2d(ctx: LayerCtx) -> Layer:
    at = ctx.node.attrs
    c, h, w = ctx.ins[0].dims
    o, ho, wo = ctx.out.dims
    kh, kw = ctx.view.graph[ctx.node.inputs[1]].shape[2:]
    cg = c // at.groups
    a = _arith(ctx, cg * kh * kw)
    lb_bits = c * kh * w * int(a.value_t[3:-2])
    if at.groups == 1 and at.stride[0] == 1 and at.dilation == (1, 1) and kh > 1 and lb_bits <= LINE_BUFFER_MAX_BITS:
        return _conv_line_buffer(ctx, a, lb_bits)
    (sh, sw), (dh, dw), (top, _, left, _) = at.stride, at.dilation, at.padding
    og = o // at.groups
    base = "(o / {og}) * {cg} + ".format(og=og, cg=cg) if at.groups > 1 else ""
    taps = [f"const int iy = {tap('oy', sh, top, 'ky', dh)};", f"const int ix = {tap('ox', sw, left, 'kx', dw)};",
            *guarded(in_range("iy", h, top, ho, sh, (kh - 1) * dh + 1) + in_range("ix", w, left, wo, sw, (kw - 1) * dw + 1),
                     f"acc += ({a.acc_t})({_read(a, f'in[{base}c][iy][ix]')}) * {a.weights}[o][c][ky][kx];", 0)]
    body = _window_sum(a, (("o", o), ("oy", ho), ("ox", wo)), cg, kh, kw, taps)
    return Layer([ctx.header(), *indent(body, 1), "}"], (Loop(o * ho * wo, cg * kh * kw, 1),))


def _window_sum(a: Arith, outer: tuple[tuple[str, int], ...], channels: int, kh: int, kw: int,
                taps: list[str]) -> list[str]:
    """The output-stationary nest every windowed layer shares: for each output (``outer`` loops,
    outermost first; ``o``, ``oy``, ``ox`` name the output element), accumulate the pipelined
    ``taps`` (C lines reading ``c``, ``ky``, ``kx``) over channels x kernel, then write the epilogue."""
    d = len(outer)
    return [*(f"{INDENT * k}for (int {v} = 0; {v} < {n}; {v}++) {{" for k, (v, n) in enumerate(outer)),
            f"{INDENT * d}{a.acc_t} acc = 0;",
            f"{INDENT * d}for (int c = 0; c < {channels}; c++) {{",
            f"{INDENT * (d + 1)}for (int ky = 0; ky < {kh}; ky++) {{",
            f"{INDENT * (d + 2)}for (int kx = 0; kx < {kw}; kx++) {{",
            PIPELINE,
            *indent(taps, d + 3),
            f"{INDENT * (d + 2)}}}", f"{INDENT * (d + 1)}}}", f"{INDENT * d}}}",
            f"{INDENT * d}out[o][oy][ox] = {a.epilogue};",
            *(f"{INDENT * k}}}" for k in reversed(range(d)))]


def _conv_line_buffer(ctx: LayerCtx, a: Arith, lb_bits: int) -> Layer:
    """Stride-1 rows, groups 1: the input streams in row by row through a KH-row line buffer
    (seeds/004: keep 5 rows, compute, shift in the next); rows outside the input read as zero."""
    at = ctx.node.attrs
    c, h, w = ctx.ins[0].dims
    o, ho, wo = ctx.out.dims
    kh, kw = ctx.view.graph[ctx.node.inputs[1]].shape[2:]
    top, left, sw = at.padding[0], at.padding[2], at.stride[1]
    load = f"(y >= 0 && y < {h}) ? ({a.value_t})({_read(a, 'in[c][y][x]')}) : 0"
    body = [
        f"static {a.value_t} lb[{c}][{kh}][{w}]; /* the {kh} input rows output row oy reads, centred */",
        "#pragma HLS ARRAY_PARTITION variable=lb complete dim=2",
        f"for (int c = 0; c < {c}; c++) {{",
        f"{INDENT}for (int r = 1; r < {kh}; r++) {{",
        f"{INDENT * 2}for (int x = 0; x < {w}; x++) {{",
        PIPELINE,
        f"{INDENT * 3}const int y = {tap('r', 1, top + 1, '0', 1).replace(' + 0', '')};",
        f"{INDENT * 3}lb[c][r][x] = {load};",
        f"{INDENT * 2}}}", f"{INDENT}}}", "}",
        f"for (int oy = 0; oy < {ho}; oy++) {{",
        f"{INDENT}const int y = oy + {kh - 1 - top}; /* the input row entering the buffer */" if kh - 1 != top
        else f"{INDENT}const int y = oy; /* the input row entering the buffer */",
        f"{INDENT}for (int c = 0; c < {c}; c++) {{",
        f"{INDENT * 2}for (int x = 0; x < {w}; x++) {{",
        PIPELINE,
        f"{INDENT * 3}for (int r = 0; r < {kh - 1}; r++) {{",
        f"{INDENT * 4}lb[c][r][x] = lb[c][r + 1][x];",
        f"{INDENT * 3}}}",
        f"{INDENT * 3}lb[c][{kh - 1}][x] = {load};",
        f"{INDENT * 2}}}", f"{INDENT}}}",
        *indent(_window_sum(a, (("o", o), ("ox", wo)), c, kh, kw, [
            f"const int ix = {tap('ox', sw, left, 'kx', 1)};",
            *guarded(in_range("ix", w, left, wo, sw, kw), f"acc += ({a.acc_t})lb[c][ky][ix] * {a.weights}[o][c][ky][kx];", 0)]), 1),
        "}"]
    loops = (Loop(c, (kh - 1) * w), Loop(ho * c, w), Loop(ho * o * wo, c * kh * kw, 1))
    return Layer([ctx.header(), *indent(body, 1), "}"], loops, lb_bits)


def conv_transpose2d(ctx: LayerCtx) -> Layer:
    """Gather form: each output pixel sums the input pixels whose scattered kernel covers it,
    ``oy + pad = iy * stride + ky * dilation``; the crop of ``padding`` is in the index."""
    at = ctx.node.attrs
    c, h, w = ctx.ins[0].dims
    o, ho, wo = ctx.out.dims
    _, og, kh, kw = ctx.view.graph[ctx.node.inputs[1]].shape
    cg = c // at.groups
    a = _arith(ctx, cg * kh * kw)
    (sh, sw), (dh, dw), (ph, pw) = at.stride, at.dilation, at.padding
    base = f"(o / {og}) * {cg} + " if at.groups > 1 else ""
    strided = f" && ty % {sh} == 0 && tx % {sw} == 0" if (sh, sw) != (1, 1) else ""
    iy, ix = ("ty / " + str(sh), "tx / " + str(sw)) if (sh, sw) != (1, 1) else ("ty", "tx")
    taps = [f"const int ty = oy + {ph} - ky * {dh};", f"const int tx = ox + {pw} - kx * {dw};",
            f"if (ty >= 0 && tx >= 0{strided} && {iy} < {h} && {ix} < {w}) {{",
            f"{INDENT}acc += ({a.acc_t})({_read(a, f'in[{base}c][{iy}][{ix}]')}) * "
            f"{a.weights}[{base}c][o % {og}][ky][kx];",
            "}"]
    body = _window_sum(a, (("o", o), ("oy", ho), ("ox", wo)), cg, kh, kw, taps)
    return Layer([ctx.header(), *indent(body, 1), "}"], (Loop(o * ho * wo, cg * kh * kw, 1),))
