"""conv2d and linear with their fused epilogue (bias + requantize + activation clamp).

conv2d. Weights (O, C/G, kh, kw) int8 stay in OIHW order in the DRAM image: an output-channel
tile is one contiguous block, one DMA. The per-channel tables ``[bias | mult | shift]`` (int32,
3*O) are one block loaded once into NRAM. Per tile (``o_t`` channels x ``th`` output rows): one
strided DMA brings the input rows (halo included, all channels of the tile's groups), one
``conv`` instruction computes the int32 accumulators (the tile's share of the layer's zero
padding given as its ``pad``, the input zero point as ``a_offset``), one ``requant`` applies bias,
multiplier, shift, output zero point and the fused clamp per row (= output channel), one strided
DMA stores the int8 rows. Loads alternate between two buffers (double buffering), so the
simulator overlaps the DMA of tile i+1 with the compute of tile i; the loop order is the tiling's.

linear. ``x (M, K) @ W.T``: weights are stored as (K, n_t) blocks in tile order (each ``W[n0:n1].T``
contiguous), the activations stay resident, one ``matmul`` + one ``requant`` (channel = column)
per tile.
"""

from __future__ import annotations

import numpy as np

from aics.compiler.lower.common import Emitter, Lowered, numel
from aics.compiler.memory import Arena
from aics.compiler.passes.fuse_epilogue import Epilogue
from aics.compiler.tiling import ConvShape, ConvTiling, conv_tiling, linear_tiling
from aics.dlp.isa import Bcast, Conv, DType, MatMul, Requant, Space
from aics.errors import CompileError
from aics.ir.graph import Node
from aics.numerics import quantize_multipliers
from aics.reference import qtensor as Q
from aics.reference.int_ops import bias_codes


def _tables(e: Emitter, node: Node, n_out: int) -> np.ndarray:
    """``[bias | mult | shift]`` int32 of a conv/linear in int mode (as ``int_ops._weighted``)."""
    x_qp, w_qp, out_qp = (e.qp(n) for n in (node.inputs[0], node.inputs[1], node.name))
    if out_qp.dtype != "int8" or x_qp.dtype != "int8" or w_qp.dtype != "int8":
        raise CompileError(f"layer '{node.name}': only int8 activations and weights lower to the DLP "
                           f"(got {x_qp.dtype} x {w_qp.dtype} -> {out_qp.dtype})")
    if any(w_qp.zero_point):
        raise CompileError(f"layer '{node.name}': weights must be symmetric (zero point 0)")
    bias = bias_codes(node, e.view)
    bias = np.zeros(n_out, dtype=np.int64) if bias is None else np.asarray(bias, dtype=np.int64).ravel()
    scales = np.broadcast_to(np.asarray(w_qp.scale, dtype=np.float64), (n_out,))
    mult, shift = quantize_multipliers(x_qp.scale[0] * scales / Q.affine(out_qp).scale)
    return np.concatenate([bias, mult.ravel(), shift.ravel()])


def lower_conv(e: Emitter, node: Node, epi: Epilogue) -> Lowered:
    x, w = e.graph[node.inputs[0]], e.graph[node.inputs[1]]
    a = node.attrs
    if x.shape[0] != 1:
        raise CompileError(f"layer '{node.name}': batch {x.shape[0]}; the compiler lowers batch 1")
    _, c, h, wd = x.shape
    o, cpg, kh, kw = w.shape
    shape = ConvShape(c, h, wd, o, node.shape[2], node.shape[3], kh, kw, a.stride, a.dilation, a.groups)
    tables = _tables(e, node, o)
    weights = e.consts[w.name]
    w_addr = e.image.add(f"{node.name}.weight", weights, DType.INT8)
    t_addr = e.image.add(f"{node.name}.tables", tables, DType.INT32)
    tiling = conv_tiling(node.name, shape, e.arch, 12 * o + 64)
    macs = o * shape.ho * shape.wo * cpg * kh * kw
    compulsory = weights.size + tables.size * 4 + numel(x.shape) + numel(node.shape)
    zp_x = e.qp(x.name).zero_point[0]
    out_zp = Q.affine(e.qp(epi.output)).zero_point

    def emit(em: Emitter) -> None:
        nram, wram = em.begin(epi.output, "conv2d")
        _emit_conv(em, nram, wram, shape, tiling, a.padding, zp_x, out_zp, epi,
                   em.addr[x.name], em.addr[epi.output], w_addr, t_addr)
    return Lowered(node, epi.output, emit, macs, compulsory)


def _emit_conv(e: Emitter, nram: Arena, wram: Arena, s: ConvShape, t: ConvTiling,
               pads: tuple[int, int, int, int], zp_x: int, out_zp: int, epi: Epilogue,
               x_addr: int, y_addr: int, w_addr: int, t_addr: int) -> None:
    o = s.o
    k = s.cpg * s.kh * s.kw
    tab = nram.alloc("tables", 12 * o)
    e.load(t_addr, (Space.NRAM, tab), (1, 1, 12 * o))
    in_tile = s.c_in(t.o_t) * s.h_in(t.th) * s.w
    ibufs = [nram.alloc(f"in{i}", in_tile) for i in range(t.input_bufs)]
    wbufs = [wram.alloc(f"w{i}", t.o_t * k) for i in range(t.weight_bufs)]
    accs = [nram.alloc(f"acc{i}", t.o_t * t.th * s.wo * 4) for i in range(2)]
    ress = [nram.alloc(f"res{i}", t.o_t * t.th * s.wo) for i in range(2)]
    o_tiles, r_tiles = t.o_tiles(s), t.row_tiles(s)
    pt, _, pl, pr = pads
    sh, dh = s.stride[0], s.dilation[0]
    state = {"w": -1, "wkey": None, "i": -1, "ikey": None, "t": 0}

    def weights(o0: int, on: int) -> int:
        if state["wkey"] != o0:
            state["w"] = (state["w"] + 1) % len(wbufs)
            state["wkey"] = o0
            e.load(w_addr + o0 * k, (Space.WRAM, wbufs[state["w"]]), (1, 1, on * k))
        return wbufs[state["w"]]

    def inputs(o0: int, on: int, y0: int, rows: int) -> tuple[int, int, int, int, int]:
        start = y0 * sh - pt
        end = (y0 + rows - 1) * sh - pt + (s.kh - 1) * dh + 1
        lo, hi = max(start, 0), min(end, s.h)
        c0 = 0 if s.groups == 1 else o0 // s.opg * s.cpg
        cn = s.c_in(on)
        key = (c0, cn, lo, hi)
        if state["ikey"] != key:
            state["i"] = (state["i"] + 1) % len(ibufs)
            state["ikey"] = key
            e.load(x_addr + c0 * s.h * s.w + lo * s.w, (Space.NRAM, ibufs[state["i"]]),
                   (1, cn, (hi - lo) * s.w), src_strides=(0, s.h * s.w))
        return ibufs[state["i"]], cn, hi - lo, lo - start, end - hi

    def tile(o0: int, on: int, y0: int, rows: int) -> None:
        wbuf = weights(o0, on)
        ibuf, cn, h, ptop, pbot = inputs(o0, on, y0, rows)
        j = state["t"] % 2
        state["t"] += 1
        e.emit(Conv, c=cn, h=h, w=s.w, o=on, kernel=(s.kh, s.kw), inp=ibuf, wgt=wbuf, out=accs[j],
               dtype=DType.INT8, stride=s.stride, dilation=s.dilation, pad=(ptop, pbot, pl, pr),
               groups=cn // s.cpg if s.groups > 1 else 1, a_offset=zp_x)
        n = rows * s.wo
        e.emit(Requant, rows=on, cols=n, src=accs[j], bias=tab + 4 * o0, mult=tab + 4 * (o + o0),
               shift=tab + 4 * (2 * o + o0), dst=ress[j], dtype=DType.INT8, channel=Bcast.ROW,
               out_zp=out_zp, qmin=epi.qmin, qmax=epi.qmax)
        e.store(ress[j], y_addr + o0 * s.ho * s.wo + y0 * s.wo, (1, on, n), dst_strides=(0, s.ho * s.wo))

    if t.order == "o_outer":
        for o0, on in o_tiles:
            for y0, rows in r_tiles:
                tile(o0, on, y0, rows)
    else:
        for y0, rows in r_tiles:
            for o0, on in o_tiles:
                tile(o0, on, y0, rows)


def lower_linear(e: Emitter, node: Node, epi: Epilogue) -> Lowered:
    x, w = e.graph[node.inputs[0]], e.graph[node.inputs[1]]
    n, k = w.shape
    m = numel(x.shape) // k
    tables = _tables(e, node, n)
    tiling = linear_tiling(node.name, m, k, n, e.arch, 12 * n + 64)
    weights = e.consts[w.name]
    blocks = [weights[n0:n0 + tiling.n_t].T.ravel() for n0 in range(0, n, tiling.n_t)]
    w_addr = e.image.add(f"{node.name}.weight", np.concatenate(blocks), DType.INT8)
    t_addr = e.image.add(f"{node.name}.tables", tables, DType.INT32)
    zp_x = e.qp(x.name).zero_point[0]
    out_zp = Q.affine(e.qp(epi.output)).zero_point
    compulsory = weights.size + tables.size * 4 + numel(x.shape) + numel(node.shape)

    def emit(em: Emitter) -> None:
        nram, wram = em.begin(epi.output, "linear")
        tab = nram.alloc("tables", 12 * n)
        em.load(t_addr, (Space.NRAM, tab), (1, 1, 12 * n))
        xa = nram.alloc("x", m * k)
        em.load(em.addr[x.name], (Space.NRAM, xa), (1, 1, m * k))
        nt = tiling.n_t
        wbufs = [wram.alloc(f"w{i}", k * nt) for i in range(tiling.weight_bufs)]
        accs = [nram.alloc(f"acc{i}", m * nt * 4) for i in range(2)]
        ress = [nram.alloc(f"res{i}", m * nt) for i in range(2)]
        y = em.addr[epi.output]
        for i, n0 in enumerate(range(0, n, nt)):
            cols = min(nt, n - n0)
            wb, j = wbufs[i % len(wbufs)], i % 2
            em.load(w_addr + n0 * k, (Space.WRAM, wb), (1, 1, k * cols))
            em.emit(MatMul, m=m, k=k, n=cols, a=xa, b=wb, c=accs[j], dtype=DType.INT8, a_offset=zp_x)
            em.emit(Requant, rows=m, cols=cols, src=accs[j], bias=tab + 4 * n0, mult=tab + 4 * (n + n0),
                    shift=tab + 4 * (2 * n + n0), dst=ress[j], dtype=DType.INT8, channel=Bcast.COL,
                    out_zp=out_zp, qmin=epi.qmin, qmax=epi.qmax)
            em.store(ress[j], y + n0, (1, m, cols), dst_strides=(0, n))
    return Lowered(node, epi.output, emit, m * k * n, compulsory)
