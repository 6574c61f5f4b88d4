"""conv_transpose2d as a stride-1 convolution on the matrix unit.

The reference (``int_ops._weighted``, ``windows.conv_transpose2d``) scatters every input pixel's
products into the output, exactly, then applies the conv epilogue RQw(acc, s_x s_w[o] / s_out)
with the int32 bias. The same sums are a direct convolution (PyTorch's identity):

    conv_transpose2d(x, w; s, p, op, d) = conv2d(z, w'; stride 1, dilation d)

where ``z`` is ``x`` with ``s - 1`` zeros inserted between pixels and padded by
``P = d (k - 1) - p`` before and ``P + op`` after (negative P crops), and ``w'`` is ``w`` with its
in/out channel axes swapped per group and both spatial axes flipped. "Zero" means the input's
zero point, since the conv computes on ``q - zp``; so the products are the reference's ones
(integers: the order of the sums does not matter) and the epilogue is the conv's (``requant``
with the same bias/multiplier/shift tables).

Stride 1 with P >= 0 (the seeds' autoencoder): the conv reads the input as it is, its padding
(which holds ``a_offset = zp``) playing the role of P. Otherwise the layer first builds ``z`` in a
DRAM scratch region that the image initialises to ``zp`` (padding and inserted zeros): strided
DMA copies scatter the input pixels into it, a ``sync`` follows on every core, and the conv
reads ``z`` with no padding. The conv itself is ``weighted._emit_conv``: the cost-model tiling,
double buffering and multi-core shares of conv2d. An exact clamp activation reading only this
layer (relu) is fused into its ``requant`` as for conv2d.

col2im (stride 1, one group), chosen when the matrix-unit model says it is cheaper: the padded
convolution wastes the MACs of its zero border (a 17x17 kernel on a 16x16 map: 4x) and, with few
output channels, most array columns. Instead the products are computed where the reference
computes them, one GEMM ``contrib = W^T (O*kh*kw, C) @ X (C, H*Wa)`` whose rows are per-tap
images, and scatter-added into the output: with the input rows padded to the accumulator's row
length ``Wa`` (holding zp), the image of tap (ky, kx) lands at the flat offset
``ky*d*Wa + kx*d`` of its channel's accumulator, so each tap is one contiguous int32 ``eltwise``
ADD (the padding columns add 0, so rows wrapping past ``Wa`` change nothing). The zero point
is taken out per row, ``contrib - zp * sum_c W^T[r, c]`` (a constant table), before the adds;
int32 sums stay exact (their bound is checked, else the direct form is used). The ``requant``
then runs on each channel's accumulator and a strided DMA stores its cropped window
(``padding``, ``output_padding``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aics.compiler.lower.common import Emitter, Lowered, numel
from aics.compiler.lower.weighted import _emit_conv, _tables
from aics.compiler.memory import align
from aics.compiler.passes.fuse_epilogue import Epilogue
from aics.compiler.tiling import ConvShape, conv_tiling
from aics.dlp.isa import Bcast, DType, EltOp, Eltwise, Loc, MatMul, Move, Requant, Space
from aics.dlp.systolic import gemm_cost
from aics.errors import CompileError
from aics.ir.graph import Node
from aics.reference import qtensor as Q


def flipped_weights(w: np.ndarray, groups: int) -> np.ndarray:
    """IOHW transposed-conv weights (C, O/g, kh, kw) -> OIHW conv weights (O, C/g, kh, kw), flipped."""
    c, og, kh, kw = w.shape
    wg = w.reshape(groups, c // groups, og, kh, kw).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
    return np.ascontiguousarray(wg.reshape(groups * og, c // groups, kh, kw))


def conv_transpose_on_dlp(e: Emitter, node: Node) -> bool:
    """Whether ``lower_conv_transpose`` handles ``node``: int8 activations, symmetric int8 weights
    (per output channel with one group), batch 1 (else it runs on the host)."""
    x_qp, w_qp, out_qp = (e.qp(n) for n in (*node.inputs[:2], node.name))
    ok = all(qp is not None and qp.dtype == "int8" for qp in (x_qp, w_qp, out_qp))
    return (ok and not x_qp.per_channel and not out_qp.per_channel and not any(w_qp.zero_point)
            and e.graph[node.inputs[0]].shape[0] == 1 and e.graph[node.inputs[1]].op == "const"
            and (node.attrs.groups == 1 or not w_qp.per_channel))


def lower_conv_transpose(e: Emitter, node: Node, output: str, qmin: int | None = None,
                         qmax: int | None = None) -> Lowered:
    """``output``, ``qmin``, ``qmax``: a fused clamp activation after the layer (or the node itself)."""
    x, w = e.graph[node.inputs[0]], e.graph[node.inputs[1]]
    a = node.attrs
    if x.shape[0] != 1:
        raise CompileError(f"layer '{node.name}': batch {x.shape[0]}; the compiler lowers batch 1")
    _, c, h, wd = x.shape
    o, ho, wo = node.shape[1:]
    kh, kw = w.shape[2:]
    (sh, sw), (dh, dw), (ph, pw), (oph, opw) = a.stride, a.dilation, a.padding, a.output_padding
    pads = (dh * (kh - 1) - ph, dh * (kh - 1) - ph + oph, dw * (kw - 1) - pw, dw * (kw - 1) - pw + opw)
    tables = _tables(e, node, o)
    zp = int(Q.affine(e.qp(x.name)).zero_point)
    out_qp = e.qp(output)
    lo, hi = Q.code_range(out_qp)
    epi = Epilogue(node.name, (), output, lo if qmin is None else qmin, hi if qmax is None else qmax)
    macs = c * (o // a.groups) * kh * kw * h * wd
    compulsory = e.consts[w.name].size + 4 * tables.size + numel(x.shape) + numel(node.shape)
    plan = _col2im_plan(e, node, tables.size) if (sh, sw) == (1, 1) and a.groups == 1 else None
    if plan is not None:
        direct_shape = ConvShape(c, h, wd, o, ho, wo, kh, kw, (1, 1), (dh, dw), 1)
        direct_cycles = (None if min(pads) < 0 else
                         conv_tiling(node.name, direct_shape, e.arch, 12 * o + 64).estimate)
        if use_col2im(plan.estimate, direct_cycles):
            return _lower_col2im(e, node, plan, tables, epi, macs, compulsory)
    direct = (sh, sw) == (1, 1) and min(pads) >= 0
    weights = flipped_weights(e.consts[w.name], a.groups)
    w_addr = e.image.add(f"{node.name}.weight", weights, DType.INT8)
    t_addr = e.image.add(f"{node.name}.tables", tables, DType.INT32)
    if direct:
        shape = ConvShape(c, h, wd, o, ho, wo, kh, kw, (1, 1), (dh, dw), a.groups)
        conv_pads = pads
    else:
        hp, wp = (h - 1) * sh + 1 + pads[0] + pads[1], (wd - 1) * sw + 1 + pads[2] + pads[3]
        if hp < 1 or wp < 1:
            raise CompileError(f"layer '{node.name}': empty transposed convolution")
        shape = ConvShape(c, hp, wp, o, ho, wo, kh, kw, (1, 1), (dh, dw), a.groups)
        conv_pads = (0, 0, 0, 0)
        z_addr = e.image.add(f"{node.name}.dilated", np.full(c * hp * wp, zp), DType.INT8)
        rows = [iy for iy in range(h) if 0 <= iy * sh + pads[0] < hp]
        cols = [ix for ix in range(wd) if 0 <= ix * sw + pads[2] < wp]
    tiling = conv_tiling(node.name, shape, e.arch, 12 * o + 64)
    out_zp = Q.affine(out_qp).zero_point

    def scatter(em: Emitter, x_addr: int) -> None:
        """Input pixels into the zero-point scratch ``z`` (then a barrier on every core)."""
        if not rows or not cols:
            return
        iy0, ny, ix0, nx = rows[0], len(rows), cols[0], len(cols)
        src = x_addr + iy0 * wd + ix0
        dst = z_addr + (iy0 * sh + pads[0]) * wp + ix0 * sw + pads[2]
        if sw == 1:  # whole row segments: one move
            moves = [(src, dst, (c, ny, nx), (h * wd, wd), (hp * wp, sh * wp))]
        elif c <= ny:  # one move per channel: rows x pixels
            moves = [(src + ci * h * wd, dst + ci * hp * wp, (ny, nx, 1), (wd, 1), (sh * wp, sw)) for ci in range(c)]
        else:  # one move per input row: channels x pixels
            moves = [(src + r * wd, dst + r * sh * wp, (c, nx, 1), (h * wd, 1), (hp * wp, sw)) for r in range(ny)]
        for s_at, d_at, dims, s_str, d_str in moves:
            em.emit(Move, src=Loc(Space.DRAM, s_at), dst=Loc(Space.DRAM, d_at), shape=dims,
                    src_strides=s_str, dst_strides=d_str)
        em.end_layer()

    def emit(em: Emitter) -> None:
        nram, wram = em.begin(output, node.op)
        x_addr = em.addr[x.name]
        if not direct:
            scatter(em, x_addr)
            x_addr = z_addr
        _emit_conv(em, nram, wram, shape, tiling, conv_pads, zp, out_zp, epi, x_addr, em.addr[output],
                   w_addr, t_addr)
    return Lowered(node, output, emit, macs, compulsory)


def use_col2im(col2im_cycles: int, direct_cycles: int | None) -> bool:
    """The choice between the two forms of a stride-1 layer (``direct_cycles``: the padded conv's
    tiling estimate; None when it would need the scratch, i.e. a crop)."""
    return direct_cycles is None or col2im_cycles < direct_cycles


@dataclass(frozen=True)
class _Col2im:
    ha: int  # accumulator rows and row length (the full output, or the cropped window's extent)
    wa: int
    length: int  # int32 elements per channel accumulator: ha * wa + the last tap's overhang
    o_t: int  # output channels per tile
    m_t: int  # W^T rows per matmul
    estimate: int  # cycles the model predicts (matrix + vector, tiles shared by the cores)


def _col2im_plan(e: Emitter, node: Node, n_tables: int) -> _Col2im | None:
    """The col2im tiling of a stride-1, single-group transposed conv, or None when it cannot be
    exact (an int32 partial sum could saturate) or its smallest tile does not fit."""
    x, w = e.graph[node.inputs[0]], e.graph[node.inputs[1]]
    _, c, h, wd = x.shape
    o, ho, wo = node.shape[1:]
    kh, kw = w.shape[2:]
    (dh, dw), (ph, pw) = node.attrs.dilation, node.attrs.padding
    codes = np.abs(e.consts[w.name].astype(np.int64))
    if int(codes.sum(axis=(0, 2, 3)).max()) * 255 >= 2**31:
        return None
    hf, wf = h + dh * (kh - 1), wd + dw * (kw - 1)
    ha, wa = max(hf, ph + ho), max(wf, pw + wo)
    length = ha * wa + dw * (kw - 1)
    kk, n = kh * kw, h * wa
    arch = e.arch
    nram, wram = arch.memory.nram_kib * 1024 - 1024, arch.memory.wram_kib * 1024
    if align(c * n) > wram:
        return None
    fixed = align(4 * n_tables) + align(4 * o * kk) + align(c * n) + 64
    lanes = arch.vector.ops_per_cycle.get("ADD_32", arch.vector.lanes)
    for least in (arch.matrix.rows, 1):  # matmuls as tall as the array if possible, else any
        o_t = -(-o // arch.cores)
        while o_t >= 1:
            free = nram - fixed - align(4 * o_t * length) - align(o_t * length)
            m_t = min(o_t * kk, max(free, 0) // (2 * (align(c) + align(4 * n))))
            if m_t >= min(o_t * kk, least):
                tiles = -(-o // o_t)
                per_tile = sum(gemm_cost(arch.matrix, min(m_t, o_t * kk - r), c, n).cycles
                               for r in range(0, o_t * kk, m_t))
                vector = o_t * kk * -(-n // lanes) + 3 * -(-o_t * length // lanes)
                return _Col2im(ha, wa, length, o_t, m_t, -(-tiles // arch.cores) * (per_tile + vector))
            o_t //= 2
    return None


def _lower_col2im(e: Emitter, node: Node, p: _Col2im, tables: np.ndarray, epi: Epilogue, macs: int,
                  compulsory: int) -> Lowered:
    x, w = e.graph[node.inputs[0]], e.graph[node.inputs[1]]
    _, c, h, wd = x.shape
    o, ho, wo = node.shape[1:]
    kh, kw = w.shape[2:]
    (dh, dw), (ph, pw) = node.attrs.dilation, node.attrs.padding
    kk, n, L = kh * kw, h * p.wa, p.length
    wt = e.consts[w.name].transpose(1, 2, 3, 0).reshape(o * kk, c)  # rows (o, ky, kx): W^T
    zp = int(Q.affine(e.qp(x.name)).zero_point)
    corr = zp * wt.astype(np.int64).sum(axis=1)
    w_addr = e.image.add(f"{node.name}.weight_t", wt, DType.INT8)
    t_addr = e.image.add(f"{node.name}.tables", np.concatenate([tables, corr]), DType.INT32)
    z_addr = e.image.add(f"{node.name}.zp", np.array([zp]), DType.INT8)
    out_zp = Q.affine(e.qp(epi.output)).zero_point
    o_tiles = [(o0, min(p.o_t, o - o0)) for o0 in range(0, o, p.o_t)]

    def emit(em: Emitter) -> None:
        nram, wram = em.begin(epi.output, node.op)
        tab = nram.alloc("tables", 4 * (tables.size + o * kk))
        zpv = nram.alloc("zp", 1)
        stage = nram.alloc("x_rows", c * n)
        acc = nram.alloc("acc", 4 * p.o_t * L)
        res = nram.alloc("res", p.o_t * L)
        abufs = [nram.alloc(f"wt{i}", p.m_t * c) for i in range(2)]
        contribs = [nram.alloc(f"contrib{i}", 4 * p.m_t * n) for i in range(2)]
        xw = wram.alloc("x", c * n)
        corr_at = tab + 4 * tables.size
        count = [0]

        def prologue() -> None:  # per core: tables, and the input rows padded to Wa with zp, in WRAM
            em.load(t_addr, (Space.NRAM, tab), (1, 1, 4 * (tables.size + o * kk)))
            em.load(z_addr, (Space.NRAM, zpv), (1, 1, 1))
            em.emit(Eltwise, op=EltOp.SUB, dtype=DType.INT8, rows=1, cols=c * n, a=stage, b=stage, out=stage)
            em.emit(Eltwise, op=EltOp.ADD, dtype=DType.INT8, rows=1, cols=c * n, a=stage, b=zpv, out=stage,
                    bcast=Bcast.ROW)
            em.emit(Move, src=Loc(Space.DRAM, em.addr[x.name]), dst=Loc(Space.NRAM, stage), shape=(1, c * h, wd),
                    src_strides=(0, wd), dst_strides=(0, p.wa))
            em.emit(Move, src=Loc(Space.NRAM, stage), dst=Loc(Space.WRAM, xw), shape=(1, 1, c * n))
            count[0] = 0

        def tile(_: int, item: tuple[int, int]) -> None:
            o0, on = item
            em.emit(Eltwise, op=EltOp.SUB, dtype=DType.INT32, rows=1, cols=on * L, a=acc, b=acc, out=acc)
            for r0 in range(o0 * kk, (o0 + on) * kk, p.m_t):
                mn = min(p.m_t, (o0 + on) * kk - r0)
                j = count[0] % 2
                count[0] += 1
                em.load(w_addr + r0 * c, (Space.NRAM, abufs[j]), (1, 1, mn * c))
                em.emit(MatMul, m=mn, k=c, n=n, a=abufs[j], b=xw, c=contribs[j], dtype=DType.INT8)
                em.emit(Eltwise, op=EltOp.SUB, dtype=DType.INT32, rows=mn, cols=n, a=contribs[j], b=corr_at + 4 * r0,
                        out=contribs[j], bcast=Bcast.ROW)
                for r in range(r0, r0 + mn):
                    oc, (ky, kx) = r // kk, divmod(r % kk, kw)
                    at = acc + 4 * ((oc - o0) * L + ky * dh * p.wa + kx * dw)
                    em.emit(Eltwise, op=EltOp.ADD, dtype=DType.INT32, rows=1, cols=n, a=at,
                            b=contribs[j] + 4 * (r - r0) * n, out=at)
            em.emit(Requant, rows=on, cols=L, src=acc, bias=tab + 4 * o0, mult=tab + 4 * (o + o0),
                    shift=tab + 4 * (2 * o + o0), dst=res, dtype=DType.INT8, channel=Bcast.ROW, out_zp=out_zp,
                    qmin=epi.qmin, qmax=epi.qmax)
            em.emit(Move, src=Loc(Space.NRAM, res + ph * p.wa + pw),
                    dst=Loc(Space.DRAM, em.addr[epi.output] + o0 * ho * wo), shape=(on, ho, wo),
                    src_strides=(L, p.wa), dst_strides=(ho * wo, wo))
        em.on_cores(o_tiles, prologue, tile)
    return Lowered(node, epi.output, emit, macs, compulsory)
