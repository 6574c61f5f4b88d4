"""conv2d and linear with their fused epilogue (bias + requantize + activation clamp).

conv2d. Weights (O, C/G, kh, kw) int8 stay in OIHW order in the DRAM image: an output-channel
tile is one contiguous block, one DMA. The per-channel tables ``[bias | mult | shift]`` (int32,
3*O) are one block loaded once into NRAM. Per tile (``o_t`` channels x ``th`` output rows): one
strided DMA brings the input rows (halo included, all channels of the tile's groups), one
``conv`` instruction computes the int32 accumulators (the tile's share of the layer's zero
padding given as its ``pad``, the input zero point as ``a_offset``), one ``requant`` applies bias,
multiplier, shift, output zero point and the fused clamp per row (= output channel), one strided
DMA stores the int8 rows. A depthwise tile the tiling puts on the vector unit (``ConvTiling.vector``)
computes its accumulators with ``dwconv`` instead, its weights loaded into NRAM. A fused residual add (``Epilogue.add``) loads the residual's tile too
and runs TFLite ADD on it before the store (three ``rescale`` + one ``eltwise``). Loads alternate between two buffers (double buffering), so the
simulator overlaps the DMA of tile i+1 with the compute of tile i; the loop order is the tiling's.

linear. ``x (M, K) @ W.T``: weights are stored as (k_t, n_t) blocks in tile order (N tile major,
then K chunk: each ``W[n0:n1, k0:k1].T`` contiguous), the activations stay resident (K-chunk major;
when all M rows do not fit, blocks of rows one after another, ``LinearTiling.m_t``), one ``matmul``
per K chunk (accumulating) + one ``requant`` (channel = column) per N tile.
"""

from __future__ import annotations

import numpy as np

from aics.compiler.lower.common import Emitter, Lowered, add_fields, emit_add, numel
from aics.compiler.memory import Arena
from aics.compiler.passes.fuse_epilogue import Epilogue
from aics.compiler.tiling import ConvShape, ConvTiling, conv_tiling, linear_tiling
from aics.dlp.isa import Bcast, Conv, DType, DwConv, EltOp, Eltwise, LoadSparse, Loc, MatMul, Requant, Space
from aics.errors import CompileError
from aics.ir.graph import Node
from aics.numerics import quantize_multipliers
from aics.numerics.sparse import bitmap_blob
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


def dense_weight_tiles(weights: np.ndarray, s: ConvShape, o_t: int) -> np.ndarray:
    """Grouped-conv weights (O, C/G, kh, kw) as block-diagonal tiles of ``o_t`` output channels:
    tile t is (on, c_in(on), kh, kw) with each channel's group weights at its group's input
    channels and zeros elsewhere, so one ungrouped conv of the tile computes exactly the grouped
    one (a zero weight adds nothing to the int32 accumulator)."""
    tiles = []
    for o0 in range(0, s.o, o_t):
        on = min(o_t, s.o - o0)
        block = np.zeros((on, s.c_in(on), s.kh, s.kw), dtype=weights.dtype)
        first = o0 // s.opg
        for j in range(on):
            g = (o0 + j) // s.opg - first
            block[j, g * s.cpg:(g + 1) * s.cpg] = weights[o0 + j]
        tiles.append(block.ravel())
    return np.concatenate(tiles)


def sparse_tiles(tiles: list[np.ndarray]) -> tuple[np.ndarray, list[tuple[int, int]]] | None:
    """int8 weight tiles bitmap-encoded one by one (``aics.numerics.sparse``, exercise 7.10), when
    that saves at least an eighth of the weight bytes: (the encoded image, per tile (offset,
    non-zeros)); None when dense is as good (a dense tile costs 1 byte per weight, an encoded one
    1/8 + the non-zero fraction)."""
    n = sum(t.size for t in tiles)
    if 8 * (sum(map(np.count_nonzero, tiles)) + n / 8) > 7 * n:  # the encoded size, before encoding anything
        return None
    blobs = [bitmap_blob(t) for t in tiles]
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])[:-1]]).astype(int).tolist()
    image = np.frombuffer(b"".join(blobs), dtype=np.int8)
    return image, [(off, int(np.count_nonzero(t))) for off, t in zip(offsets, tiles)]


class _Slots:
    """Which buffer of a double (or single) buffer holds which tile, on the current core."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.reset()

    def reset(self) -> None:
        self.slot, self.key = -1, None

    def get(self, key: object) -> tuple[int, bool]:
        """(slot holding ``key``, whether it must be loaded first)."""
        if key == self.key:
            return self.slot, False
        self.slot, self.key = (self.slot + 1) % self.count, key
        return self.slot, True


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
    tiling = conv_tiling(node.name, shape, e.arch, 12 * o + 64, 9 if epi.add else 0, allow_dense=True)
    image = dense_weight_tiles(weights, shape, tiling.o_t) if tiling.dense else weights
    sizes = [on * (shape.c_in(on) if tiling.dense else cpg) * kh * kw for _, on in tiling.o_tiles(shape)]
    sparse = None if tiling.vector else sparse_tiles(np.split(image.ravel(), np.cumsum(sizes)[:-1]))
    if sparse is not None:
        image = sparse[0]
    w_addr = e.image.add(f"{node.name}.weight", image, DType.INT8)
    t_addr = e.image.add(f"{node.name}.tables", tables, DType.INT32)
    add = add_fields(e, epi.output, epi.residual, epi.add, epi.add_qmin, epi.add_qmax) if epi.add else None
    macs = o * shape.ho * shape.wo * cpg * kh * kw
    compulsory = image.size + tables.size * 4 + numel(x.shape) + numel(node.shape)
    zp_x = e.qp(x.name).zero_point[0]
    out_zp = Q.affine(e.qp(epi.output)).zero_point
    if epi.add:
        compulsory += numel(node.shape)  # the residual read

    def emit(em: Emitter) -> None:
        nram, wram = em.begin(epi.writes, "conv2d+add" if epi.add else "conv2d")
        _emit_conv(em, nram, wram, shape, tiling, a.padding, zp_x, out_zp, epi,
                   em.addr[x.name], em.addr[epi.writes], w_addr, t_addr,
                   None if add is None else (em.addr[epi.residual], add), sparse=None if sparse is None else sparse[1])
    return Lowered(node, epi.writes, emit, macs, compulsory)


def _emit_conv(e: Emitter, nram: Arena, wram: Arena, s: ConvShape, t: ConvTiling,
               pads: tuple[int, int, int, int], zp_x: int, out_zp: int, epi: Epilogue,
               x_addr: int, y_addr: int, w_addr: int, t_addr: int,
               residual: tuple[int, dict[str, dict[str, int]]] | None = None,
               float_clamp: tuple[bool, bool] | None = None, sparse: list[tuple[int, int]] | None = None) -> None:
    """The tiles of a conv; ``float_clamp`` given: fp32 operands (``s.in_bytes`` = 4) and the float
    epilogue (``float_epilogue``: bias, clamp, in place in the accumulators) instead of ``requant``;
    ``sparse``: per output-channel tile, (offset, non-zeros) of its bitmap-encoded weights
    (``sparse_tiles``), loaded with ``load_sparse``."""
    float32 = float_clamp is not None
    o = s.o
    es = s.in_bytes

    def k_of(on: int) -> int:  # weights per output channel of a tile of ``on`` channels, as laid out
        return s.c_in(on) * s.kh * s.kw if t.dense else s.cpg * s.kh * s.kw

    tab = nram.alloc("tables", 12 * o)
    in_tile = s.c_in(t.o_t) * s.h_in(t.th) * s.w * es
    ibufs = [nram.alloc(f"in{i}", in_tile) for i in range(t.input_bufs)]
    w_space, w_arena = (Space.NRAM, nram) if t.vector else (Space.WRAM, wram)
    wbufs = [w_arena.alloc(f"w{i}", t.o_t * k_of(t.o_t) * es) for i in range(t.weight_bufs)]
    accs = [nram.alloc(f"acc{i}", t.o_t * t.th * s.wo * 4) for i in range(2)]
    ress = accs if float32 else [nram.alloc(f"res{i}", t.o_t * t.th * s.wo) for i in range(2)]
    tile_elems = t.o_t * t.th * s.wo
    if residual is not None:
        rbufs = [nram.alloc(f"resid{i}", tile_elems) for i in range(2)]
        sums = [(nram.alloc(f"sa{i}", 4 * tile_elems), nram.alloc(f"sb{i}", 4 * tile_elems)) for i in range(2)]
    o_tiles, r_tiles = t.o_tiles(s), t.row_tiles(s)
    pt, _, pl, pr = pads
    sh, dh = s.stride[0], s.dilation[0]
    wslots, islots = _Slots(len(wbufs)), _Slots(len(ibufs))

    def prologue() -> None:  # per core: its tables, and no weight or input tile loaded yet
        e.load(t_addr, (Space.NRAM, tab), (1, 1, 12 * o))
        wslots.reset()
        islots.reset()

    def weights(o0: int, on: int) -> int:
        slot, load = wslots.get(o0)
        if load and sparse is not None:
            offset, nnz = sparse[o0 // t.o_t]
            e.emit(LoadSparse, src=Loc(Space.DRAM, w_addr + offset), dst=Loc(Space.WRAM, wbufs[slot]),
                   n=on * k_of(on), nnz=nnz)
        elif load:  # tiles before o0 are full ones
            e.load(w_addr + o0 * k_of(t.o_t) * es, (w_space, wbufs[slot]), (1, 1, on * k_of(on) * es))
        return wbufs[slot]

    def inputs(o0: int, on: int, y0: int, rows: int) -> tuple[int, int, int, int, int]:
        start = y0 * sh - pt
        end = (y0 + rows - 1) * sh - pt + (s.kh - 1) * dh + 1
        lo, hi = max(start, 0), min(end, s.h)
        c0 = 0 if s.groups == 1 else o0 // s.opg * s.cpg
        cn = s.c_in(on)
        slot, load = islots.get((c0, cn, lo, hi))
        if load:
            e.load(x_addr + (c0 * s.h * s.w + lo * s.w) * es, (Space.NRAM, ibufs[slot]),
                   (1, cn, (hi - lo) * s.w * es), src_strides=(0, s.h * s.w * es))
        return ibufs[slot], cn, hi - lo, lo - start, end - hi

    def tile(i: int, item: tuple[int, int, int, int]) -> None:
        o0, on, y0, rows = item
        wbuf = weights(o0, on)
        ibuf, cn, h, ptop, pbot = inputs(o0, on, y0, rows)
        j = i % 2
        if t.vector:
            e.emit(DwConv, c=cn, h=h, w=s.w, kernel=(s.kh, s.kw), inp=ibuf, wgt=wbuf, out=accs[j],
                   dtype=DType.FP32 if float32 else DType.INT8, stride=s.stride, dilation=s.dilation,
                   pad=(ptop, pbot, pl, pr), a_offset=zp_x)
        else:
            e.emit(Conv, c=cn, h=h, w=s.w, o=on, kernel=(s.kh, s.kw), inp=ibuf, wgt=wbuf, out=accs[j],
                   dtype=DType.FP32 if float32 else DType.INT8, stride=s.stride, dilation=s.dilation,
                   pad=(ptop, pbot, pl, pr), groups=cn // s.cpg if s.groups > 1 and not t.dense else 1,
                   a_offset=zp_x)
        n = rows * s.wo
        where = o0 * s.ho * s.wo + y0 * s.wo
        if float32:
            float_epilogue(e, accs[j], on, n, tab, o, o0, Bcast.ROW, float_clamp)
            e.store(accs[j], y_addr + where * 4, (1, on, n * 4), dst_strides=(0, s.ho * s.wo * 4))
            return
        e.emit(Requant, rows=on, cols=n, src=accs[j], bias=tab + 4 * o0, mult=tab + 4 * (o + o0),
               shift=tab + 4 * (2 * o + o0), dst=ress[j], dtype=DType.INT8, channel=Bcast.ROW,
               out_zp=out_zp, qmin=epi.qmin, qmax=epi.qmax)
        if residual is not None:
            r_addr, f = residual
            (sa, sb), count = sums[j], on * n
            e.load(r_addr + where, (Space.NRAM, rbufs[j]), (1, on, n), src_strides=(0, s.ho * s.wo))
            emit_add(e, ress[j], rbufs[j], sa, sb, ress[j], count, f)
        e.store(ress[j], y_addr + where, (1, on, n), dst_strides=(0, s.ho * s.wo))

    if t.order == "o_outer":
        tiles = [(o0, on, y0, rows) for o0, on in o_tiles for y0, rows in r_tiles]
    else:
        tiles = [(o0, on, y0, rows) for y0, rows in r_tiles for o0, on in o_tiles]
    e.on_cores(tiles, prologue, tile)


def float_tables(bias: np.ndarray | None, n_out: int, lo: float, hi: float) -> np.ndarray:
    """``[bias | lo | hi]`` float32 per output channel: the float epilogue's operands."""
    b = np.zeros(n_out, np.float32) if bias is None else np.asarray(bias, np.float32).ravel()
    return np.concatenate([b, np.full(n_out, lo, np.float32), np.full(n_out, hi, np.float32)])


def float_epilogue(e: Emitter, acc: int, channels: int, n: int, tab: int, total: int, c0: int, mode: Bcast,
                   clamp: tuple[bool, bool]) -> None:
    """fp32 ``acc += bias; acc = min(max(acc, lo), hi)`` per channel (rows for conv, columns for
    linear), in place; ``clamp`` says which sides exist (an absent side is not emitted)."""
    rows, cols = (channels, n) if mode == Bcast.ROW else (n, channels)
    steps = [(EltOp.ADD, 0)] + [(op, k * total) for k, (op, on) in enumerate(
        ((EltOp.MAX, clamp[0]), (EltOp.MIN, clamp[1])), start=1) if on]
    for op, offset in steps:
        e.emit(Eltwise, op=op, dtype=DType.FP32, rows=rows, cols=cols, a=acc, b=tab + 4 * (offset + c0), out=acc,
               bcast=mode)


def lower_linear(e: Emitter, node: Node, epi: Epilogue, float_clamp: tuple[float, float] | None = None) -> Lowered:
    """int8 linear with its requant epilogue; ``float_clamp`` (lo, hi) given: an fp32 linear whose
    epilogue adds the bias and clamps to [lo, hi] (``float_epilogue``)."""
    x, w = e.graph[node.inputs[0]], e.graph[node.inputs[1]]
    n, k = w.shape
    m = numel(x.shape) // k
    es = 1 if float_clamp is None else 4
    if float_clamp is None:
        tables, weights = _tables(e, node, n), e.consts[w.name]
    else:
        bias = e.graph.params[node.inputs[2]] if len(node.inputs) > 2 else None
        tables, weights = float_tables(bias, n, *float_clamp), np.asarray(e.graph.params[w.name], np.float32)
    tiling = linear_tiling(node.name, m, k, n, e.arch, 12 * n + 64, es)
    nt, kt = tiling.n_t, tiling.k_t
    blocks = [weights[n0:n0 + nt, k0:k0 + kt].T.ravel() for n0 in range(0, n, nt) for k0 in range(0, k, kt)]
    dtype = DType.INT8 if float_clamp is None else DType.FP32
    sparse = sparse_tiles(blocks) if float_clamp is None else None
    w_addr = e.image.add(f"{node.name}.weight", np.concatenate(blocks) if sparse is None else sparse[0], dtype)
    t_addr = e.image.add(f"{node.name}.tables", tables, DType.INT32 if float_clamp is None else DType.FP32)
    zp_x = e.qp(x.name).zero_point[0] if float_clamp is None else 0
    out_zp = Q.affine(e.qp(epi.output)).zero_point if float_clamp is None else 0
    w_bytes = weights.size * es if sparse is None else sparse[0].size
    compulsory = w_bytes + (numel(x.shape) + numel(node.shape)) * es + tables.size * 4
    sides = None if float_clamp is None else (float_clamp[0] > -np.inf, float_clamp[1] < np.inf)

    mt = tiling.m_t or m  # input rows resident at a time; more rows: one linear per block
    row_blocks = [(m0, min(mt, m - m0)) for m0 in range(0, m, mt)]

    def emit(em: Emitter) -> None:
        nram, wram = em.begin(epi.output, "linear")
        tab = nram.alloc("tables", 12 * n)
        xa = nram.alloc("x", mt * k * es)
        wbufs = [wram.alloc(f"w{i}", kt * nt * es) for i in range(tiling.weight_bufs)]
        accs = [nram.alloc(f"acc{i}", mt * nt * 4) for i in range(2)]
        ress = accs if sides is not None else [nram.alloc(f"res{i}", mt * nt) for i in range(2)]
        chunks = [(k0, min(kt, k - k0)) for k0 in range(0, k, kt)]
        loads = [0]
        for m0, mb in row_blocks:
            x_at, y = em.addr[x.name] + m0 * k * es, em.addr[epi.output] + m0 * n * es

            def prologue() -> None:  # x in K-chunk-major order: chunk c is the contiguous (mb, kc) block at mb*k0
                em.load(t_addr, (Space.NRAM, tab), (1, 1, 12 * n))
                if len(chunks) == 1 or mb == 1:
                    em.load(x_at, (Space.NRAM, xa), (1, 1, mb * k * es))
                else:
                    for k0, kc in chunks:
                        em.load(x_at + k0 * es, (Space.NRAM, xa + mb * k0 * es), (1, mb, kc * es),
                                src_strides=(0, k * es))
                loads[0] = 0

            def tile(i: int, n0: int) -> None:
                cols = min(nt, n - n0)
                j = i % 2
                for c, (k0, kc) in enumerate(chunks):
                    wb = wbufs[loads[0] % len(wbufs)]
                    loads[0] += 1
                    if sparse is not None:  # the blocks are in (N tile, K chunk) order
                        offset, nnz = sparse[1][n0 // nt * len(chunks) + c]
                        em.emit(LoadSparse, src=Loc(Space.DRAM, w_addr + offset), dst=Loc(Space.WRAM, wb),
                                n=kc * cols, nnz=nnz)
                    else:
                        em.load(w_addr + (n0 * k + k0 * cols) * es, (Space.WRAM, wb), (1, 1, kc * cols * es))
                    em.emit(MatMul, m=mb, k=kc, n=cols, a=xa + mb * k0 * es, b=wb, c=accs[j], dtype=dtype,
                            a_offset=zp_x, accumulate=c > 0)
                if sides is not None:
                    float_epilogue(em, accs[j], cols, mb, tab, n, n0, Bcast.COL, sides)
                else:
                    em.emit(Requant, rows=mb, cols=cols, src=accs[j], bias=tab + 4 * n0, mult=tab + 4 * (n + n0),
                            shift=tab + 4 * (2 * n + n0), dst=ress[j], dtype=DType.INT8, channel=Bcast.COL,
                            out_zp=out_zp, qmin=epi.qmin, qmax=epi.qmax)
                em.store(ress[j], y + n0 * es, (1, mb, cols * es), dst_strides=(0, n * es))
            em.on_cores(list(range(0, n, nt)), prologue, tile)
    return Lowered(node, epi.output, emit, m * k * n, compulsory)
