"""Broadcasting ops on the vector unit and by DMA: ``mul`` (SE gates, scalar scales) and ``expand``.

mul. The reference (``aics.reference.int_elementwise._mul``) computes
``RQ((q_a - zp_a)(q_b - zp_b), s_a s_b / s_out)`` with ``RQ = qtensor.requantizer``: the exact
int product, shifted left by ``k = preshift(span_a * span_b)`` and rescaled by
``M(s_a s_b / s_out / 2**k)`` (``kernels.rescale``). Per chunk the DLP runs the same steps:

1. ``cast`` int8 -> int32 with ``zp = zp_a`` (``sat(q - zp)``: the centred codes, exact);
2. ``cast`` of ``b`` likewise (once per core, in the prologue, when ``b`` is broadcast);
3. ``eltwise`` MUL int32 (``bcast`` none / row / col): the exact product (|p| <= 255 * 255, no
   saturation);
4. ``rescale`` int32 -> int8 with ``left_shift = k`` and the reference's multiplier and shift.

A residual ``add`` (with its clamp) that is the mul's only reader can be fused (``then``): each chunk
of the mul's int8 result goes straight through TFLite ADD with the residual's chunk
(``common.emit_add``) before the store, so the mul's result never travels to memory and back
(SE blocks: ``relu(x * gate + identity)``).

Broadcasting: the output is viewed as a (rows, cols) block such that the broadcast operand holds
one value per row (``N,C,H,W x N,C,1,1``: rows = channels) or per column, or is a full operand;
``mul`` commutes exactly in integers, so the broadcast operand may be either input. A constant
operand (a scalar scale) is placed in the DRAM image (``const_address``).

expand. Pure data movement (the reference converts then moves codes; ``expand`` inherits its
input's params, so the codes are copied as they are): strided DRAM -> DRAM moves whose source
strides are 0 along the broadcast axes.
"""

from __future__ import annotations

from itertools import product

import numpy as np

from aics.compiler.lower.common import Emitter, Lowered, add_fields, emit_add, numel
from aics.dlp.isa import Bcast, Cast, DType, EltOp, Eltwise, Loc, Move, Rescale, Space
from aics.errors import CompileError
from aics.ir.graph import Node
from aics.numerics import quantize_multipliers
from aics.reference import qtensor as Q


def const_address(e: Emitter, name: str) -> int | None:
    """The DRAM address of constant ``name``'s int codes (placed in the image once), or None when
    ``name`` is not a constant. Call it while preparing a layer (before activations are placed)."""
    if e.graph[name].op != "const":
        return None
    key = f"const:{name}"
    if key not in e.image.symbols:
        qp = e.qp(name)
        if qp is None or qp.dtype != "int8" or qp.per_channel:
            raise CompileError(f"constant '{name}' is not per-tensor int8; it cannot be an activation operand")
        e.image.add(key, e.consts[name], DType.INT8)
    return e.image.symbols[key][0]


def tensor_address(e: Emitter, name: str, const: int | None) -> int:
    return const if const is not None else e.addr[name]


def all_int8(e: Emitter, names: tuple[str, ...]) -> bool:
    """Whether every tensor of ``names`` is per-tensor int8 (what these lowerings handle)."""
    return all((qp := e.qp(n)) is not None and qp.dtype == "int8" and not qp.per_channel for n in names)


def mul_on_dlp(e: Emitter, node: Node) -> bool:
    """Whether ``lower_mul`` handles ``node`` (else it runs on the host)."""
    if not all_int8(e, (*node.inputs, node.name)):
        return False
    views = [_view(e.graph[n].shape, node.shape) for n in node.inputs]
    return None not in views and any(v[0] == Bcast.NONE for v in views if v is not None)


def expand_on_dlp(e: Emitter, node: Node) -> bool:
    x = node.inputs[0]
    return all_int8(e, (x, node.name)) and e.qp(x) == e.qp(node.name)


def int8_tensors(e: Emitter, node: Node, names: tuple[str, ...]) -> None:
    for name in names:
        qp = e.qp(name)
        if qp is None or qp.dtype != "int8" or qp.per_channel:
            raise CompileError(f"layer '{node.name}': tensor '{name}' is not per-tensor int8; "
                               f"the DLP lowering of {node.op} handles int8 only")


def _view(shape: tuple[int, ...], out: tuple[int, ...]) -> tuple[Bcast, int, int] | None:
    """How an operand of ``shape`` broadcasts over ``out`` seen as (rows, cols): (mode, rows, cols)."""
    shape = (1,) * (len(out) - len(shape)) + tuple(shape)
    if shape == out:
        return Bcast.NONE, 1, numel(out)
    for p in range(len(out) + 1):
        if shape == out[:p] + (1,) * (len(out) - p):
            return Bcast.ROW, numel(out[:p]), numel(out[p:])
        if shape == (1,) * p + out[p:]:
            return Bcast.COL, numel(out[:p]), numel(out[p:])
    return None


FusedAdd = tuple[Node, str, int | None, int | None]  # (the add, the tensor it writes, its clamp)


def lower_mul(e: Emitter, node: Node, then: FusedAdd | None = None) -> Lowered:
    """``mul``; ``then``: a residual add after it, fused (see the module docstring)."""
    a_name, b_name = node.inputs
    int8_tensors(e, node, (a_name, b_name, node.name))
    out = node.shape
    va, vb = _view(e.graph[a_name].shape, out), _view(e.graph[b_name].shape, out)
    if va is not None and va[0] != Bcast.NONE and vb is not None and vb[0] == Bcast.NONE:
        a_name, b_name, va, vb = b_name, a_name, vb, va  # the full operand first: mul commutes
    if va is None or vb is None or va[0] != Bcast.NONE:
        raise CompileError(f"layer '{node.name}': mul of shapes {e.graph[a_name].shape} and "
                           f"{e.graph[b_name].shape} is not lowered (one operand must be full)")
    mode, rows, cols = vb
    if mode == Bcast.NONE:
        rows, cols = 1, numel(out)
    qa, qb, qo = (Q.affine(e.qp(n)) for n in (a_name, b_name, node.name))
    lo, hi = Q.code_range(e.qp(node.name))
    span_a, span_b = (Q.code_range(e.qp(n))[1] - Q.code_range(e.qp(n))[0] for n in (a_name, b_name))
    k = Q.preshift(span_a * span_b)
    mult, shift = quantize_multipliers(np.asarray(qa.scale * qb.scale / qo.scale, dtype=np.float64) / 2.0**k)
    rq = dict(mult=int(mult), shift=int(shift), left_shift=k, in_zp=0, out_zp=qo.zero_point, qmin=lo, qmax=hi)
    a_const, b_const = const_address(e, a_name), const_address(e, b_name)
    nb = rows if mode == Bcast.ROW else cols if mode == Bcast.COL else 0  # resident b values
    free = e.arch.memory.nram_kib * 1024 - 1024 - 5 * nb - 128
    per_elem = 2 * (1 + 4 + 1 + (5 if mode == Bcast.NONE else 0) + (6 if then else 0))
    output, residual, fields = node.name, None, None
    if then is not None:
        add, output, qmin, qmax = then
        residual = next(i for i in add.inputs if i != node.name)
        int8_tensors(e, add, (residual, add.name))
        fields = add_fields(e, node.name, residual, add.name, qmin, qmax)
    budget = free // per_elem // 64 * 64
    if budget < 64 or (mode == Bcast.COL and cols > budget):
        need = per_elem * max(64, cols if mode == Bcast.COL else 64) + 5 * nb + 1152
        raise CompileError(f"layer '{node.name}': mul needs {need:,} bytes of NRAM, "
                           f"the arch has {e.arch.memory.nram_kib * 1024:,}")
    pieces = _pieces(rows, cols, budget, mode)

    def emit(em: Emitter) -> None:
        nram, _ = em.begin(output, "mul+add" if then else node.op)
        bres = (nram.alloc("b8", max(nb, 1)), nram.alloc("b32", 4 * max(nb, 1))) if nb else None
        names = (("a", 1), ("a32", 4), ("o", 1)) + ((("b", 1), ("b32", 4)) if bres is None else ()) \
            + ((("r", 1), ("sb", 4), ("y", 1)) if then else ())
        bufs = [{key: nram.alloc(f"{key}{i}", budget * size) for key, size in names} for i in range(2)]
        pa, pb = tensor_address(em, a_name, a_const), tensor_address(em, b_name, b_const)
        dst = em.addr[output]

        def prologue() -> None:
            if bres is not None:
                em.load(pb, (Space.NRAM, bres[0]), (1, 1, nb))
                em.emit(Cast, n=nb, src=bres[0], dst=bres[1], in_dtype=DType.INT8, dtype=DType.INT32, zp=qb.zero_point)

        def body(i: int, piece: tuple[int, int, int, int]) -> None:
            r0, nr, c0, nc = piece
            buf, n, start = bufs[i % 2], nr * nc, r0 * cols + c0
            em.load(pa + start, (Space.NRAM, buf["a"]), (1, 1, n))
            em.emit(Cast, n=n, src=buf["a"], dst=buf["a32"], in_dtype=DType.INT8, dtype=DType.INT32, zp=qa.zero_point)
            if bres is None:
                em.load(pb + start, (Space.NRAM, buf["b"]), (1, 1, n))
                em.emit(Cast, n=n, src=buf["b"], dst=buf["b32"], in_dtype=DType.INT8, dtype=DType.INT32,
                        zp=qb.zero_point)
                b_at, shape = buf["b32"], (1, n)
            elif mode == Bcast.ROW:
                b_at, shape = bres[1] + 4 * r0, (nr, nc)
            else:
                b_at, shape = bres[1] + 4 * c0, (nr, nc)
            em.emit(Eltwise, op=EltOp.MUL, dtype=DType.INT32, rows=shape[0], cols=shape[1], a=buf["a32"], b=b_at,
                    out=buf["a32"], bcast=mode)
            em.emit(Rescale, n=n, src=buf["a32"], dst=buf["o"], in_dtype=DType.INT32, dtype=DType.INT8, **rq)
            if fields is None:
                em.store(buf["o"], dst + start, (1, 1, n))
                return
            em.load(em.addr[residual] + start, (Space.NRAM, buf["r"]), (1, 1, n))  # same shape as the output
            emit_add(em, buf["o"], buf["r"], buf["a32"], buf["sb"], buf["y"], n, fields)
            em.store(buf["y"], dst + start, (1, 1, n))
        em.on_cores(pieces, prologue, body)
    reads = numel(out) if mode == Bcast.NONE else nb
    return Lowered(node, output, emit, 0, 2 * numel(out) + reads + (numel(out) if then else 0))


def _pieces(rows: int, cols: int, budget: int, mode: Bcast) -> list[tuple[int, int, int, int]]:
    """(row0, rows, col0, cols) chunks of at most ``budget`` elements: whole rows when a row fits,
    else pieces of one row (a column-broadcast operand needs whole rows)."""
    if cols <= budget:
        per = budget // cols
        return [(r, min(per, rows - r), 0, cols) for r in range(0, rows, per)]
    assert mode != Bcast.COL
    return [(r, 1, c, min(budget, cols - c)) for r in range(rows) for c in range(0, cols, budget)]


def lower_expand(e: Emitter, node: Node) -> Lowered:
    x = e.graph[node.inputs[0]]
    if e.qp(x.name) != e.qp(node.name):
        raise CompileError(f"layer '{node.name}': expand with other output params is not lowered")
    int8_tensors(e, node, (x.name, node.name))
    out = node.shape
    shape = (1,) * (len(out) - len(x.shape)) + tuple(x.shape)
    if any(s not in (1, o) for s, o in zip(shape, out)):
        raise CompileError(f"layer '{node.name}': cannot expand {x.shape} to {out}")
    n = len(out)
    in_strides = [numel(shape[i + 1:]) if shape[i] > 1 else 0 for i in range(n)]
    out_strides = [numel(out[i + 1:]) for i in range(n)]
    t = n
    while t > 0 and shape[t - 1] == out[t - 1]:
        t -= 1  # axes t.. are copied as they are: one contiguous row
    row = numel(out[t:])
    axes = [(out[i], in_strides[i], out_strides[i]) for i in range(t) if out[i] > 1]
    loops, inner = axes[:-2], axes[-2:]
    while len(inner) < 2:
        inner.insert(0, (1, 0, 0))
    src_const = const_address(e, x.name)

    def emit(em: Emitter) -> None:
        em.begin(node.name, node.op)
        src0, dst0 = tensor_address(em, x.name, src_const), em.addr[node.name]
        for idx in product(*(range(size) for size, _, _ in loops)):
            src = src0 + sum(i * s for i, (_, s, _) in zip(idx, loops))
            dst = dst0 + sum(i * d for i, (_, _, d) in zip(idx, loops))
            (z, zs, zd), (y, ys, yd) = inner
            em.emit(Move, src=Loc(Space.DRAM, src), dst=Loc(Space.DRAM, dst), shape=(z, y, row),
                    src_strides=(zs, ys), dst_strides=(zd, yd))
    return Lowered(node, node.name, emit, 0, numel(x.shape) + numel(out))
