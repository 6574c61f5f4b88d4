"""batch_norm and layer_norm on the vector unit, replaying the reference's float32 recipe.

Both compute in "float" mode in the integer reference (``aics.reference.int_ops``): the int8
input is dequantized (``qtensor.to_real`` = ``kernels.cast``: ``float32(q - zp) * float32(s)``),
the float32 op runs as written in ``aics.reference.functions``, and the result is quantized to
the output params (``qtensor.quantize`` = ``kernels.cast``, half to even). Every step of those
recipes is one DLP vector instruction built on the same ``aics.numerics.kernels`` function, in
the same order on the same float32 values, so the DLP's result has the same bits:

batch_norm (``functions.batch_norm``): the per-channel ``scale``, ``shift`` depend on constants
only and are computed here by ``functions.batch_norm_affine`` itself (float32 tables in the DRAM
image); per chunk of channels: ``cast`` int8 -> fp32, ``eltwise`` MUL by scale (bcast row =
channel), ``eltwise`` ADD shift, ``cast`` fp32 -> int8.

layer_norm (``functions.layer_norm``, rows of D = the normalised dims): ``cast``;
``reduce`` SUM (fp32, per row: ``kernels.reduce`` is numpy's float32 row sum, the same bits
whatever the number of rows in the block); ``eltwise`` MUL by 1/D (one fp32 value, bcast row
with a single row); SUB the row mean (bcast row); MUL d*d; ``reduce`` SUM; MUL 1/D; ADD eps;
``unary`` RSQRT; MUL by the row's rsqrt; MUL weight and ADD bias (bcast col); ``cast`` to int8.

An exact clamp activation reading only a batch_norm (DenseNet's BN -> relu) is applied to its
int8 result before the store (``eltwise`` MAX/MIN by one value), saving the activation's DRAM
round trip.

Chunks are whole rows (channels for batch_norm, normalised rows for layer_norm), as large as NRAM
allows (every DRAM transfer holds the shared channel for its latency, so fewer, larger ones win),
double buffered, shared out over the cores; a batch_norm channel too large for NRAM is cut into pieces.
"""

from __future__ import annotations

import math

import numpy as np

from aics.compiler.lower.common import Emitter, Lowered, numel
from aics.compiler.memory import align
from aics.dlp.isa import Bcast, Cast, DType, EltOp, Eltwise, Reduce, ReduceOp, Rounding, Space, Unary, UnaryOp
from aics.errors import CompileError
from aics.ir.graph import Node
from aics.reference import qtensor as Q
from aics.reference.functions import batch_norm_affine

F32 = np.float32


def norm_on_dlp(e: Emitter, node: Node) -> bool:
    """Whether a batch_norm / layer_norm reads and writes per-tensor int8 (then it runs here)."""
    if node.op not in ("batch_norm", "layer_norm"):
        return False
    for name in (node.inputs[0], node.name):
        qp = e.qp(name)
        if qp is None or qp.dtype != "int8" or qp.per_channel:
            return False
    shape = e.graph[node.inputs[0]].shape
    return node.op == "layer_norm" or (len(shape) >= 2 and shape[0] == 1)


def _real(e: Emitter, name: str) -> np.ndarray:
    """A parameter as the reference's float recipe sees it (``to_real`` of the executor's const)."""
    return Q.to_real(e.view.const(name), e.qp(name))


def _casts(e: Emitter, node: Node) -> tuple[dict[str, object], dict[str, object]]:
    qi, qo = Q.affine(e.qp(node.inputs[0])), Q.affine(e.qp(node.name))
    deq = dict(in_dtype=DType.INT8, dtype=DType.FP32, scale=float(F32(qi.scale)), zp=int(qi.zero_point))
    quant = dict(in_dtype=DType.FP32, dtype=DType.INT8, scale=float(F32(qo.scale)), zp=int(qo.zero_point),
                 rounding=Rounding.HALF_EVEN)
    return deq, quant


def lower_batch_norm(e: Emitter, node: Node, output: str | None = None, qmin: int | None = None,
                     qmax: int | None = None) -> Lowered:
    """``output``, ``qmin``, ``qmax``: an exact clamp activation after the layer (relu), applied to
    the int8 result on chip by ``eltwise`` MAX / MIN with one value (the reference's LUT is that
    clamp, ``fuse_epilogue.clamp_of``)."""
    output = output or node.name
    x = e.graph[node.inputs[0]]
    if x.shape[0] != 1:
        raise CompileError(f"layer '{node.name}': batch {x.shape[0]}; the compiler lowers batch 1")
    c, hw = x.shape[1], numel(x.shape[2:])
    scale, shift = batch_norm_affine(*(_real(e, n) for n in node.inputs[1:5]), node.attrs.eps)
    tables = np.concatenate([scale.astype(F32).ravel(), shift.astype(F32).ravel()])
    t_addr = e.image.add(f"{node.name}.affine", tables, DType.FP32)
    deq, quant = _casts(e, node)
    lo, hi = Q.code_range(e.qp(node.name))
    clamps = [(op, v) for op, v, edge in ((EltOp.MAX, qmin, lo), (EltOp.MIN, qmax, hi)) if v is not None and v != edge]
    c_addr = e.image.add(f"{node.name}.clamp", np.array([v for _, v in clamps] or [0]), DType.INT8)
    free = e.arch.memory.nram_kib * 1024 - 1024 - align(8 * c)
    budget = free // (2 * (1 + 4 + 1)) // 64 * 64
    if budget < 64:
        raise CompileError(f"layer '{node.name}': batch_norm needs {align(8 * c) + 768:,} bytes of NRAM, "
                           f"the arch has {e.arch.memory.nram_kib * 1024:,}")
    total = numel(x.shape)
    if hw <= budget:
        per = budget // hw
        pieces = [(c0, min(per, c - c0), 0, hw) for c0 in range(0, c, per)]
    else:
        pieces = [(c0, 1, p0, min(budget, hw - p0)) for c0 in range(c) for p0 in range(0, hw, budget)]

    def emit(em: Emitter) -> None:
        nram, _ = em.begin(output, node.op)
        tab = nram.alloc("affine", 8 * c)
        clamp = nram.alloc("clamp", 2)
        bufs = [{k: nram.alloc(f"{k}{i}", budget * s) for k, s in (("q", 1), ("f", 4), ("o", 1))} for i in range(2)]
        src, dst = em.addr[x.name], em.addr[output]

        def prologue() -> None:
            em.load(t_addr, (Space.NRAM, tab), (1, 1, 8 * c))
            if clamps:
                em.load(c_addr, (Space.NRAM, clamp), (1, 1, len(clamps)))

        def body(i: int, piece: tuple[int, int, int, int]) -> None:
            c0, cn, p0, n = piece
            buf, count, start = bufs[i % 2], cn * n, c0 * hw + p0
            em.load(src + start, (Space.NRAM, buf["q"]), (1, 1, count))
            em.emit(Cast, n=count, src=buf["q"], dst=buf["f"], **deq)
            for op, off in ((EltOp.MUL, 0), (EltOp.ADD, c)):
                em.emit(Eltwise, op=op, dtype=DType.FP32, rows=cn, cols=n, a=buf["f"], b=tab + 4 * (off + c0),
                        out=buf["f"], bcast=Bcast.ROW)
            em.emit(Cast, n=count, src=buf["f"], dst=buf["o"], **quant)
            for k, (op, _) in enumerate(clamps):
                em.emit(Eltwise, op=op, dtype=DType.INT8, rows=1, cols=count, a=buf["o"], b=clamp + k,
                        out=buf["o"], bcast=Bcast.ROW)
            em.store(buf["o"], dst + start, (1, 1, count))
        em.on_cores(pieces, prologue, body)
    return Lowered(node, output, emit, 0, 2 * total + 4 * tables.size)


def lower_layer_norm(e: Emitter, node: Node) -> Lowered:
    x = e.graph[node.inputs[0]]
    axes = node.attrs.axes
    d = math.prod(x.shape[len(x.shape) - axes:])
    rows = numel(x.shape) // d
    weight = _real(e, node.inputs[1]).astype(F32).ravel() if len(node.inputs) > 1 else None
    bias = _real(e, node.inputs[2]).astype(F32).ravel() if len(node.inputs) > 2 else None
    consts = [np.array([1.0 / d, node.attrs.eps], dtype=F32)]  # F32(1.0 / D) and F32(eps), as the reference
    consts += [v for v in (weight, bias) if v is not None]
    tables = np.concatenate(consts)
    t_addr = e.image.add(f"{node.name}.consts", tables, DType.FP32)
    w_at = 8 if weight is not None else None
    b_at = 8 + 4 * d * (weight is not None) if bias is not None else None
    deq, quant = _casts(e, node)
    per_row = 2 * (align(d) + 2 * align(4 * d) + align(d) + 4 * 64)
    free = e.arch.memory.nram_kib * 1024 - 1024 - align(4 * tables.size)
    r_t = min(rows, free // per_row)
    if r_t < 1:
        raise CompileError(f"layer '{node.name}': one row of layer_norm needs {per_row:,} bytes of NRAM, "
                           f"{free:,} are free")
    r_t = max(1, min(r_t, -(-rows // e.arch.cores)))
    pieces = [(r0, min(r_t, rows - r0)) for r0 in range(0, rows, r_t)]

    def emit(em: Emitter) -> None:
        nram, _ = em.begin(node.name, node.op)
        tab = nram.alloc("consts", 4 * tables.size)
        bufs = [{k: nram.alloc(f"{k}{i}", r_t * s) for k, s in
                 (("q", d), ("x", 4 * d), ("sq", 4 * d), ("o", d), ("s", 4), ("v", 4))} for i in range(2)]
        src, dst = em.addr[x.name], em.addr[node.name]

        def elt(op: EltOp, rows_: int, cols: int, a: int, b: int, out: int, bcast: Bcast) -> None:
            em.emit(Eltwise, op=op, dtype=DType.FP32, rows=rows_, cols=cols, a=a, b=b, out=out, bcast=bcast)

        def body(i: int, piece: tuple[int, int]) -> None:
            (r0, rn), buf = piece, bufs[i % 2]
            n = rn * d
            em.load(src + r0 * d, (Space.NRAM, buf["q"]), (1, 1, n))
            em.emit(Cast, n=n, src=buf["q"], dst=buf["x"], **deq)
            em.emit(Reduce, op=ReduceOp.SUM, dtype=DType.FP32, rows=rn, cols=d, axis=1, src=buf["x"], dst=buf["s"])
            elt(EltOp.MUL, 1, rn, buf["s"], tab, buf["s"], Bcast.ROW)  # mean = sum * (1/D)
            elt(EltOp.SUB, rn, d, buf["x"], buf["s"], buf["x"], Bcast.ROW)  # d = x - mean
            elt(EltOp.MUL, 1, n, buf["x"], buf["x"], buf["sq"], Bcast.NONE)  # d * d
            em.emit(Reduce, op=ReduceOp.SUM, dtype=DType.FP32, rows=rn, cols=d, axis=1, src=buf["sq"], dst=buf["v"])
            elt(EltOp.MUL, 1, rn, buf["v"], tab, buf["v"], Bcast.ROW)  # var = sum(d*d) * (1/D)
            elt(EltOp.ADD, 1, rn, buf["v"], tab + 4, buf["v"], Bcast.ROW)  # var + eps
            em.emit(Unary, op=UnaryOp.RSQRT, dtype=DType.FP32, n=rn, src=buf["v"], dst=buf["v"])
            elt(EltOp.MUL, rn, d, buf["x"], buf["v"], buf["x"], Bcast.ROW)  # y = d * rsqrt(var + eps)
            if w_at is not None:
                elt(EltOp.MUL, rn, d, buf["x"], tab + w_at, buf["x"], Bcast.COL)
            if b_at is not None:
                elt(EltOp.ADD, rn, d, buf["x"], tab + b_at, buf["x"], Bcast.COL)
            em.emit(Cast, n=n, src=buf["x"], dst=buf["o"], **quant)
            em.store(buf["o"], dst + r0 * d, (1, 1, n))
        em.on_cores(pieces, lambda: em.load(t_addr, (Space.NRAM, tab), (1, 1, 4 * tables.size)), body)
    return Lowered(node, node.name, emit, 0, 2 * numel(x.shape) + 4 * tables.size)
