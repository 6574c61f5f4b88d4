"""Ops of the vector unit: pooling, global average, LUT activations, residual add, free reshapes.

Each reproduces its integer-reference recipe (``aics.reference.int_elementwise``) with the DLP
instruction built on the same kernel:

* max_pool2d (equal in/out params): ``pool`` MAX on whole channels (padding never wins; the
  ceil_mode overflow is extra bottom/right padding, which never wins either);
* avg_pool2d (equal params, no ceil_mode): ``pool`` AVG, ``count_pad`` = count_include_pad,
  ``pad_value`` = zp: TFLite AVERAGE_POOL_2D;
* adaptive_avg_pool2d to 1x1 and mean over H, W: ``reduce`` SUM of the raw codes per channel, then
  ``rescale`` with ``in_zp = count * zp`` (the centred sum), the reference's pre-shift k and M(r/2**k);
* adaptive_avg_pool2d to any other size (``lower_adaptive_avg``): the centred bin sums are one
  ``matmul`` of the (channels, H*W) codes with ``a_offset = zp`` by a 0/1 (H*W, bins) membership
  matrix (PyTorch's bins: start = floor(i*H/Ho), end = ceil((i+1)*H/Ho)), exact; an ``eltwise``
  MUL by 2**k (the reference's pre-shift, no saturation: |sum| << k < 2**30) and a ``requant``
  with one multiplier per bin (channel = column) give RQ(sum, s_in / (s_out count)) as the
  reference's ``requantizer`` does with its per-bin multipliers;
* activations (relu, sigmoid, ... not fused): ``lut`` with the reference's table;
* add/sub: TFLite ADD, three ``rescale`` + one ``eltwise`` (int32) per chunk;
* reshape with equal params: no code, the output aliases the input's DRAM bytes.

Streaming ops work on chunks of whole channels (pools) or of elements (the rest), double
buffered like the conv tiles.
"""

from __future__ import annotations

import numpy as np

from aics.compiler.lower.broadcast import const_address, tensor_address
from aics.compiler.lower.common import (
    Emitter, Lowered, add_fields, chunks, core_share, emit_add, no_prologue, numel, stream_chunk,
)
from aics.compiler.memory import align
from aics.dlp.isa import (
    Bcast, DType, EltOp, Eltwise, Lut, MatMul, Pool, PoolMode, Reduce, ReduceOp, Requant, Rescale, Space,
)
from aics.errors import CompileError
from aics.ir.graph import Node
from aics.numerics import lut as L
from aics.numerics import quantize_multiplier, quantize_multipliers
from aics.reference import qtensor as Q
from aics.reference import windows as WIN
from aics.reference.functions import UNARY

I32 = (-(2**31), 2**31 - 1)


def _int8(e: Emitter, node: Node) -> None:
    for name in (*node.inputs, node.name):
        qp = e.qp(name)
        if qp is None or qp.dtype != "int8" or qp.per_channel:
            raise CompileError(f"layer '{node.name}': tensor '{name}' is not per-tensor int8; "
                               f"the int8 lowering does not apply")


def lower_pool(e: Emitter, node: Node) -> Lowered:
    _int8(e, node)
    x = e.graph[node.inputs[0]]
    a = node.attrs
    in_qp, out_qp = e.qp(x.name), e.qp(node.name)
    if in_qp != out_qp:
        raise CompileError(f"layer '{node.name}': pooling with different input/output quantisation "
                           f"is not lowered yet")
    if a.dilation != (1, 1):
        raise CompileError(f"layer '{node.name}': dilated pooling is not lowered")
    avg = node.op == "avg_pool2d"
    if avg and a.ceil_mode:
        raise CompileError(f"layer '{node.name}': avg_pool2d with ceil_mode is not lowered")
    _, c, h, w = x.shape
    ho, wo = node.shape[2], node.shape[3]
    (kh, kw), (sh, sw) = a.kernel, a.stride
    t, b, l, r = a.padding
    b = max(b, (ho - 1) * sh + kh - h - t)  # ceil_mode: extra rows/cols that never win
    r = max(r, (wo - 1) * sw + kw - w - l)
    free = e.arch.memory.nram_kib * 1024 - 256
    per_ch = align(h * w) + align(ho * wo)
    c_t = min(c, free // (2 * per_ch))
    if c_t < 1:
        raise CompileError(f"layer '{node.name}': one channel needs {per_ch:,} bytes of NRAM, {free:,} are free")
    zp = in_qp.zero_point[0]

    def emit(em: Emitter) -> None:
        nram, _ = em.begin(node.name, node.op)
        ins = [nram.alloc(f"in{i}", c_t * h * w) for i in range(2)]
        outs = [nram.alloc(f"out{i}", c_t * ho * wo) for i in range(2)]
        src, dst = em.addr[x.name], em.addr[node.name]

        def body(i: int, chunk: tuple[int, int]) -> None:
            (c0, cn), j = chunk, i % 2
            em.load(src + c0 * h * w, (Space.NRAM, ins[j]), (1, 1, cn * h * w))
            em.emit(Pool, mode=PoolMode.AVG if avg else PoolMode.MAX, dtype=DType.INT8, c=cn, h=h, w=w,
                    kernel=a.kernel, src=ins[j], dst=outs[j], stride=a.stride, pad=(t, b, l, r),
                    count_pad=bool(avg and a.count_include_pad), pad_value=zp if avg else 0)
            em.store(outs[j], dst + c0 * ho * wo, (1, 1, cn * ho * wo))
        em.on_cores(chunks(c, core_share(c, c_t, em)), no_prologue, body)
    return Lowered(node, node.name, emit, 0, numel(x.shape) + numel(node.shape))


def lower_global_avg(e: Emitter, node: Node) -> Lowered:
    _int8(e, node)
    x = e.graph[node.inputs[0]]
    if len(x.shape) != 4 or numel(node.shape) != x.shape[0] * x.shape[1] or x.shape[0] != 1:
        raise CompileError(f"layer '{node.name}': only global average pooling (to 1x1) is lowered")
    if node.op == "mean" and sorted(ax % 4 for ax in node.attrs.axes) != [2, 3]:
        raise CompileError(f"layer '{node.name}': mean over axes {node.attrs.axes} is not lowered")
    _, c, h, w = x.shape
    count = h * w
    in_a, out_a = Q.affine(e.qp(x.name)), Q.affine(e.qp(node.name))
    lo, hi = Q.code_range(e.qp(node.name))
    in_lo, in_hi = Q.code_range(e.qp(x.name))
    k = Q.preshift(count * (in_hi - in_lo))
    mult, shift = quantize_multiplier(in_a.scale / out_a.scale / count / 2.0**k)
    free = e.arch.memory.nram_kib * 1024 - 256
    c_t = min(c, free // (2 * (align(count) + 8)))
    if c_t < 1:
        raise CompileError(f"layer '{node.name}': one channel needs {count + 8:,} bytes of NRAM, {free:,} are free")

    def emit(em: Emitter) -> None:
        nram, _ = em.begin(node.name, node.op)
        ins = [nram.alloc(f"in{i}", c_t * count) for i in range(2)]
        sums = [nram.alloc(f"sum{i}", c_t * 4) for i in range(2)]
        outs = [nram.alloc(f"out{i}", c_t) for i in range(2)]
        src, dst = em.addr[x.name], em.addr[node.name]

        def body(i: int, chunk: tuple[int, int]) -> None:
            (c0, cn), j = chunk, i % 2
            em.load(src + c0 * count, (Space.NRAM, ins[j]), (1, 1, cn * count))
            em.emit(Reduce, op=ReduceOp.SUM, dtype=DType.INT8, rows=cn, cols=count, axis=1, src=ins[j], dst=sums[j])
            em.emit(Rescale, n=cn, src=sums[j], dst=outs[j], in_dtype=DType.INT32, dtype=DType.INT8, mult=mult,
                    shift=shift, left_shift=k, in_zp=count * in_a.zero_point, out_zp=out_a.zero_point,
                    qmin=lo, qmax=hi)
            em.store(outs[j], dst + c0, (1, 1, cn))
        em.on_cores(chunks(c, core_share(c, c_t, em)), no_prologue, body)
    return Lowered(node, node.name, emit, 0, numel(x.shape) + numel(node.shape))


def lower_lut(e: Emitter, node: Node) -> Lowered:
    _int8(e, node)
    x = e.graph[node.inputs[0]]
    rin, rout = Q.rep(e.qp(x.name)), Q.rep(e.qp(node.name))
    table = L.build_lut(lambda v: UNARY[node.op](v, node.attrs), rin, rout)
    t_addr = e.image.add(f"{node.name}.lut", table, DType.INT8)
    total = numel(node.shape)
    chunk = stream_chunk(e, numel(node.shape), 4)

    def emit(em: Emitter) -> None:
        nram, _ = em.begin(node.name, node.op)
        tab = nram.alloc("lut", 256)
        ins = [nram.alloc(f"in{i}", chunk) for i in range(2)]
        outs = [nram.alloc(f"out{i}", chunk) for i in range(2)]
        src, dst = em.addr[x.name], em.addr[node.name]

        def body(i: int, piece: tuple[int, int]) -> None:
            (p0, n), j = piece, i % 2
            em.load(src + p0, (Space.NRAM, ins[j]), (1, 1, n))
            em.emit(Lut, n=n, dtype=DType.INT8, src=ins[j], table=tab, dst=outs[j])
            em.store(outs[j], dst + p0, (1, 1, n))
        em.on_cores(chunks(total, core_share(total, chunk, em)),
                    lambda: em.load(t_addr, (Space.NRAM, tab), (1, 1, 256)), body)
    return Lowered(node, node.name, emit, 0, 2 * total + 256)


def add_on_dlp(e: Emitter, node: Node) -> bool:
    """Whether ``lower_add`` handles ``node``: no broadcasting (else it runs on the host)."""
    return all(e.graph[name].shape == node.shape for name in node.inputs)


def lower_add(e: Emitter, node: Node, output: str, qmin: int | None = None, qmax: int | None = None) -> Lowered:
    """TFLite ADD/SUB; ``output`` / ``qmin`` / ``qmax``: a fused clamp activation after it."""
    _int8(e, node)
    a_name, b_name = node.inputs
    if not add_on_dlp(e, node):
        raise CompileError(f"layer '{node.name}': broadcasting {node.op} is not lowered")
    fields = add_fields(e, a_name, b_name, node.name, qmin, qmax)
    total = numel(node.shape)
    chunk = stream_chunk(e, numel(node.shape), 2 * (1 + 1 + 4 + 4 + 1))
    op = EltOp.ADD if node.op == "add" else EltOp.SUB
    consts = {name: const_address(e, name) for name in (a_name, b_name)}  # a constant operand: in the image

    def emit(em: Emitter) -> None:
        nram, _ = em.begin(output, node.op)
        bufs = [{k: nram.alloc(f"{k}{i}", chunk * s) for k, s in (("a", 1), ("b", 1), ("sa", 4), ("sb", 4), ("o", 1))}
                for i in range(2)]
        pa, pb = (tensor_address(em, name, consts[name]) for name in (a_name, b_name))
        dst = em.addr[output]

        def body(i: int, piece: tuple[int, int]) -> None:
            (p0, n), buf = piece, bufs[i % 2]
            em.load(pa + p0, (Space.NRAM, buf["a"]), (1, 1, n))
            em.load(pb + p0, (Space.NRAM, buf["b"]), (1, 1, n))
            emit_add(em, buf["a"], buf["b"], buf["sa"], buf["sb"], buf["o"], n, fields, op)
            em.store(buf["o"], dst + p0, (1, 1, n))
        em.on_cores(chunks(total, core_share(total, chunk, em)), no_prologue, body)
    return Lowered(node, output, emit, 0, 3 * total)


def adaptive_on_dlp(e: Emitter, node: Node) -> bool:
    """Whether ``lower_adaptive_avg`` handles ``node`` (int8, NCHW, batch 1)."""
    x = e.graph[node.inputs[0]]
    names = (x.name, node.name)
    return (len(x.shape) == 4 and x.shape[0] == 1
            and all((q := e.qp(n)) is not None and q.dtype == "int8" and not q.per_channel for n in names))


def lower_adaptive_avg(e: Emitter, node: Node) -> Lowered:
    """adaptive_avg_pool2d to any output size (module docstring)."""
    _int8(e, node)
    x = e.graph[node.inputs[0]]
    if len(x.shape) != 4 or x.shape[0] != 1:
        raise CompileError(f"layer '{node.name}': adaptive average pooling of shape {x.shape} is not lowered")
    _, c, h, w = x.shape
    ho, wo = node.shape[2], node.shape[3]
    (hs, he), (ws, we) = WIN.adaptive_bins(h, ho), WIN.adaptive_bins(w, wo)
    counts = (he - hs)[:, None] * (we - ws)[None, :]
    member = np.zeros((h, w, ho, wo), dtype=np.int8)
    for i in range(ho):
        for j in range(wo):
            member[hs[i]:he[i], ws[j]:we[j], i, j] = 1
    hw, bins = h * w, ho * wo
    in_qp, out_qp = e.qp(x.name), e.qp(node.name)
    in_lo, in_hi = Q.code_range(in_qp)
    k = Q.preshift(int(np.max(counts)) * (in_hi - in_lo))  # as int_elementwise._averaging / requantizer
    ratio = Q.affine(in_qp).scale / Q.affine(out_qp).scale / np.asarray(counts, dtype=np.float64)
    mult, shift = quantize_multipliers(np.asarray(ratio, dtype=np.float64) / 2.0**k)
    tables = np.concatenate([np.zeros(bins, dtype=np.int64), mult.ravel(), shift.ravel(), [1 << k]])
    m_addr = e.image.add(f"{node.name}.bins", member.reshape(hw, bins), DType.INT8)
    t_addr = e.image.add(f"{node.name}.tables", tables, DType.INT32)
    lo, hi = Q.code_range(out_qp)
    zp, out_zp = Q.affine(in_qp).zero_point, Q.affine(out_qp).zero_point
    if hw * bins > e.arch.memory.wram_kib * 1024:
        raise CompileError(f"layer '{node.name}': the bin matrix needs {hw * bins:,} bytes of WRAM, "
                           f"the arch has {e.arch.memory.wram_kib * 1024:,}")
    free = e.arch.memory.nram_kib * 1024 - 1024 - 4 * tables.size
    per_ch = 2 * (align(hw) + align(bins * 4) + align(bins))
    c_t = min(c, free // per_ch)
    if c_t < 1:
        raise CompileError(f"layer '{node.name}': one channel needs {per_ch:,} bytes of NRAM, {free:,} are free")

    def emit(em: Emitter) -> None:
        nram, wram = em.begin(node.name, node.op)
        tab = nram.alloc("tables", 4 * tables.size)
        bmat = wram.alloc("bins", hw * bins)
        ins = [nram.alloc(f"in{i}", c_t * hw) for i in range(2)]
        accs = [nram.alloc(f"acc{i}", c_t * bins * 4) for i in range(2)]
        outs = [nram.alloc(f"out{i}", c_t * bins) for i in range(2)]
        src, dst = em.addr[x.name], em.addr[node.name]

        def prologue() -> None:
            em.load(t_addr, (Space.NRAM, tab), (1, 1, 4 * tables.size))
            em.load(m_addr, (Space.WRAM, bmat), (1, 1, hw * bins))

        def body(i: int, chunk: tuple[int, int]) -> None:
            (c0, cn), j = chunk, i % 2
            em.load(src + c0 * hw, (Space.NRAM, ins[j]), (1, 1, cn * hw))
            em.emit(MatMul, m=cn, k=hw, n=bins, a=ins[j], b=bmat, c=accs[j], dtype=DType.INT8, a_offset=zp)
            em.emit(Eltwise, op=EltOp.MUL, dtype=DType.INT32, rows=1, cols=cn * bins, a=accs[j],
                    b=tab + 4 * 3 * bins, out=accs[j], bcast=Bcast.ROW)
            em.emit(Requant, rows=cn, cols=bins, src=accs[j], bias=tab, mult=tab + 4 * bins, shift=tab + 8 * bins,
                    dst=outs[j], dtype=DType.INT8, channel=Bcast.COL, out_zp=out_zp, qmin=lo, qmax=hi)
            em.store(outs[j], dst + c0 * bins, (1, 1, cn * bins))
        em.on_cores(chunks(c, core_share(c, c_t, em)), prologue, body)
    return Lowered(node, node.name, emit, 0, numel(x.shape) + numel(node.shape) + hw * bins + 4 * tables.size)
