"""Attention ops: batched ``matmul`` of two activations and integer ``softmax``.

matmul ``A (..., M, K) @ B (..., K, N)``. The reference (``int_ops._weighted``) computes
``acc = (A - zp_a) @ (B - zp_b)`` exactly and ``RQw(acc, s_a s_b / s_out)`` (``requantize``, no
bias). The matrix unit subtracts only the A offset (``matmul``'s ``a_offset``), so the B offset is
folded into the epilogue's bias, one value per row of A:

    (A - zp_a) @ (B - zp_b) = (A - zp_a) @ B  -  zp_b * (rowsum(A) - K * zp_a)

``reduce`` SUM of the A tile's int8 rows gives rowsum(A) (int32, exact), one ``eltwise`` MUL by
``-zp_b`` and one ADD of ``zp_b * K * zp_a`` give the bias (|values| < 2**31 is checked, so the
saturating int32 vector ops are exact), and the ``requant`` (channel = row) adds it with the
same wrap-around as the reference's int32 accumulator. Per batch item and A row tile the A rows
(and their bias) stay in NRAM while B column tiles stream through WRAM (double buffered); each
(batch, row tile) is one unit of work shared out over the cores.

softmax along the last axis: the reference's ``numerics.int_softmax`` is the ``softmax``
instruction (its exp table, built by the same ``exp_table``, is loaded once per core), then
``RQ(p, 2**-15 / s_out)`` (``qtensor.requantizer`` with bound 2**15) is one ``rescale``.
"""

from __future__ import annotations

import numpy as np

from aics.compiler.lower.broadcast import all_int8, const_address, int8_tensors, tensor_address
from aics.compiler.lower.common import Emitter, Lowered, numel
from aics.compiler.memory import align
from aics.dlp.isa import Bcast, DType, EltOp, Eltwise, MatMul, Reduce, ReduceOp, Requant, Rescale, Softmax, Space
from aics.errors import CompileError
from aics.ir.graph import Node
from aics.numerics import int_softmax as SM
from aics.numerics import quantize_multipliers
from aics.reference import qtensor as Q

I32_LIMIT = 2**31


def matmul_on_dlp(e: Emitter, node: Node) -> bool:
    """Whether ``lower_matmul`` handles ``node`` (else it runs on the host)."""
    a, b = (e.graph[n].shape for n in node.inputs)
    if not all_int8(e, (*node.inputs, node.name)) or len(a) < 2 or len(b) < 2:
        return False
    batch = numel(node.shape[:-2])
    return numel(a[:-2]) == batch and numel(b[:-2]) in (1, batch) and a[-1] * 255 * 255 < I32_LIMIT


def softmax_on_dlp(e: Emitter, node: Node) -> bool:
    x = e.graph[node.inputs[0]]
    axis = node.attrs.axis % len(x.shape)
    return all_int8(e, (x.name, node.name)) and numel(x.shape[axis + 1:]) == 1 and x.shape[axis] < 1 << 16


def lower_matmul(e: Emitter, node: Node) -> Lowered:
    a_name, b_name = node.inputs
    int8_tensors(e, node, (a_name, b_name, node.name))
    a_shape, b_shape = e.graph[a_name].shape, e.graph[b_name].shape
    if len(a_shape) < 2 or len(b_shape) < 2:
        raise CompileError(f"layer '{node.name}': matmul of vectors is not lowered")
    m, k = a_shape[-2:]
    n = b_shape[-1]
    batch = numel(node.shape[:-2])
    a_batch, b_batch = numel(a_shape[:-2]), numel(b_shape[:-2])
    if a_batch != batch or b_batch not in (1, batch):
        raise CompileError(f"layer '{node.name}': matmul broadcasting {a_shape} x {b_shape} is not lowered")
    qa, qb, qo = (Q.affine(e.qp(x)) for x in (a_name, b_name, node.name))
    zpa, zpb = int(qa.zero_point), int(qb.zero_point)
    if k * 255 * 255 >= I32_LIMIT:
        raise CompileError(f"layer '{node.name}': K = {k} is too long for an exact int32 row correction")
    mult, shift = quantize_multipliers(qa.scale * np.asarray([qb.scale], dtype=np.float64) / qo.scale)
    lo, hi = Q.code_range(e.qp(node.name))
    wram = e.arch.memory.wram_kib * 1024
    nram = e.arch.memory.nram_kib * 1024 - 1024
    cols = e.arch.matrix.cols
    fit = (wram // 2 - 64) // k  # B columns per buffer (double buffered), whole array widths if possible
    n_t = n if 2 * align(k * n) <= wram else (fit // cols * cols if fit >= cols else fit)
    if n_t < 1:
        raise CompileError(f"layer '{node.name}': one column of B needs {k:,} bytes of WRAM twice, "
                           f"the arch has {wram:,}")
    per_row = 2 * (k + 5 * n_t + 4) + 3 * 4
    m_t = min(m, (nram - 64) // per_row)
    if m_t < 1:
        raise CompileError(f"layer '{node.name}': one row of A needs {per_row:,} bytes of NRAM, "
                           f"the arch has {nram:,}")
    tables = np.concatenate([np.full(m_t, mult[0]), np.full(m_t, shift[0]), [0, -zpb, zpb * k * zpa]])
    t_addr = e.image.add(f"{node.name}.tables", tables, DType.INT32)
    a_const, b_const = const_address(e, a_name), const_address(e, b_name)
    items = [(bi, m0, min(m_t, m - m0)) for bi in range(batch) for m0 in range(0, m, m_t)]
    n_tiles = [(n0, min(n_t, n - n0)) for n0 in range(0, n, n_t)]

    def emit(em: Emitter) -> None:
        nr, wr = em.begin(node.name, node.op)
        tab = nr.alloc("tables", 4 * tables.size)
        zero, neg_zpb, offset = tab + 8 * m_t, tab + 8 * m_t + 4, tab + 8 * m_t + 8
        abufs = [nr.alloc(f"a{i}", m_t * k) for i in range(2)]
        biases = [nr.alloc(f"bias{i}", 4 * m_t) for i in range(2)]
        bbufs = [wr.alloc(f"b{i}", k * n_t) for i in range(2)]
        accs = [nr.alloc(f"acc{i}", 4 * m_t * n_t) for i in range(2)]
        outs = [nr.alloc(f"out{i}", m_t * n_t) for i in range(2)]
        pa, pb, dst = tensor_address(em, a_name, a_const), tensor_address(em, b_name, b_const), em.addr[node.name]
        count = [0]

        resident = b_batch == 1 and len(n_tiles) == 1  # one B tile for all items: loaded once per core

        def prologue() -> None:
            em.load(t_addr, (Space.NRAM, tab), (1, 1, 4 * tables.size))
            if resident:
                em.load(pb, (Space.WRAM, bbufs[0]), (1, 1, k * n))
            count[0] = 0

        def body(i: int, item: tuple[int, int, int]) -> None:
            bi, m0, mn = item
            abuf, bias = abufs[i % 2], biases[i % 2]
            em.load(pa + (bi * m + m0) * k, (Space.NRAM, abuf), (1, 1, mn * k))
            if zpb:
                em.emit(Reduce, op=ReduceOp.SUM, dtype=DType.INT8, rows=mn, cols=k, axis=1, src=abuf, dst=bias)
                em.emit(Eltwise, op=EltOp.MUL, dtype=DType.INT32, rows=1, cols=mn, a=bias, b=neg_zpb, out=bias,
                        bcast=Bcast.ROW)
                em.emit(Eltwise, op=EltOp.ADD, dtype=DType.INT32, rows=1, cols=mn, a=bias, b=offset, out=bias,
                        bcast=Bcast.ROW)
            b_base = pb + (bi if b_batch > 1 else 0) * k * n
            for n0, nn in n_tiles:
                j = count[0] % 2
                count[0] += 1
                bbuf = bbufs[0] if resident else bbufs[j]
                if not resident:
                    em.load(b_base + n0, (Space.WRAM, bbuf), (1, k, nn), src_strides=(0, n))
                em.emit(MatMul, m=mn, k=k, n=nn, a=abuf, b=bbuf, c=accs[j], dtype=DType.INT8, a_offset=zpa)
                em.emit(Requant, rows=mn, cols=nn, src=accs[j], bias=bias if zpb else zero, mult=tab,
                        shift=tab + 4 * m_t, dst=outs[j], dtype=DType.INT8,
                        channel=Bcast.ROW if zpb else Bcast.NONE, out_zp=qo.zero_point, qmin=lo, qmax=hi)
                em.store(outs[j], dst + (bi * m + m0) * n + n0, (1, mn, nn), dst_strides=(0, n))
        em.on_cores(items, prologue, body)
    compulsory = numel(a_shape) + numel(b_shape) + numel(node.shape) + 4 * tables.size
    return Lowered(node, node.name, emit, batch * m * k * n, compulsory)


def lower_softmax(e: Emitter, node: Node) -> Lowered:
    x = e.graph[node.inputs[0]]
    int8_tensors(e, node, (x.name, node.name))
    axis = node.attrs.axis % len(x.shape)
    if numel(x.shape[axis + 1:]) != 1:
        raise CompileError(f"layer '{node.name}': softmax along axis {node.attrs.axis} of {x.shape} is not "
                           f"lowered (only along the last non-trivial axis)")
    length = x.shape[axis]
    rows = numel(x.shape) // length
    in_lo, in_hi = Q.code_range(e.qp(x.name))
    table = SM.exp_table(Q.affine(e.qp(x.name)).scale, in_hi - in_lo + 1)  # as int_elementwise._softmax
    t_addr = e.image.add(f"{node.name}.exp", table, DType.INT32)
    out = Q.affine(e.qp(node.name))
    k = Q.preshift(1 << SM.PROB_FRAC)
    mult, shift = quantize_multipliers(np.asarray(2.0**-SM.PROB_FRAC / out.scale, dtype=np.float64) / 2.0**k)
    lo, hi = Q.code_range(e.qp(node.name))
    rq = dict(mult=int(mult), shift=int(shift), left_shift=k, in_zp=0, out_zp=out.zero_point, qmin=lo, qmax=hi)
    free = e.arch.memory.nram_kib * 1024 - 1024 - 4 * table.size
    per_row = 2 * (align(length) + align(4 * length) + align(length))
    r_t = min(rows, free // per_row, max(1, -(-rows // e.arch.cores)))
    if r_t < 1:
        raise CompileError(f"layer '{node.name}': one softmax row needs {per_row:,} bytes of NRAM, {free:,} are free")
    pieces = [(r0, min(r_t, rows - r0)) for r0 in range(0, rows, r_t)]

    def emit(em: Emitter) -> None:
        nram, _ = em.begin(node.name, node.op)
        tab = nram.alloc("exp", 4 * table.size)
        bufs = [{key: nram.alloc(f"{key}{i}", r_t * length * s) for key, s in (("q", 1), ("p", 4), ("o", 1))}
                for i in range(2)]
        src, dst = em.addr[x.name], em.addr[node.name]

        def body(i: int, piece: tuple[int, int]) -> None:
            (r0, rn), buf = piece, bufs[i % 2]
            count = rn * length
            em.load(src + r0 * length, (Space.NRAM, buf["q"]), (1, 1, count))
            em.emit(Softmax, rows=rn, cols=length, dtype=DType.INT8, src=buf["q"], table=tab, dst=buf["p"])
            em.emit(Rescale, n=count, src=buf["p"], dst=buf["o"], in_dtype=DType.INT32, dtype=DType.INT8, **rq)
            em.store(buf["o"], dst + r0 * length, (1, 1, count))
        em.on_cores(pieces, lambda: em.load(t_addr, (Space.NRAM, tab), (1, 1, 4 * table.size)), body)
    return Lowered(node, node.name, emit, 0, 2 * numel(x.shape) + 4 * table.size)
