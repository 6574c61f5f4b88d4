"""Data movement without arithmetic: concat, slice (split/chunk), permute (channel shuffle).

Each is a set of strided DMA copies DRAM -> DRAM (``move`` rows of ``x`` contiguous bytes, two
outer strided dimensions), emitted on the tensors' row-major layouts:

* concat along axis a: one copy per input into its slot of the output (rows of
  ``size_a(input) * inner`` bytes, ``outer`` of them, output stride ``size_a(output) * inner``),
  except for inputs their producer already wrote there (``compiler.views``);
* slice along a with step 1: one copy of ``outer`` rows of ``(end - start) * inner`` bytes; with a
  step, rows of ``inner`` bytes on two strided dimensions;
* permute: the longest trailing run of axes the permutation keeps in place is the contiguous row;
  the other output axes (size-1 axes dropped) become the move's two strided dimensions, and any
  further axes are unrolled into one move each.

The integer reference converts inputs whose quantisation differs from the output's
(``qtensor.convert``): concat inputs with other params go through NRAM and one ``rescale``
per chunk instead; a slice or permute with differing params (a slice of a constant, say) runs on
the host (``moves_codes_as_they_are``). Timing: a DRAM -> DRAM move holds the DRAM channel for
``latency + bytes / bandwidth`` (the simulator's model of any DRAM transfer).
"""

from __future__ import annotations

from itertools import product

from aics.compiler.lower.common import Emitter, Lowered, numel
from aics.compiler.memory import Arena
from aics.dlp.isa import DType, Loc, Move, Rescale, Space
from aics.errors import CompileError
from aics.ir.graph import Node
from aics.numerics import quantize_multiplier
from aics.reference import qtensor as Q


def moves_codes_as_they_are(e: Emitter, node: Node) -> bool:
    """Whether a slice or permute copies int8 codes unchanged (its input has its params); else it
    would re-quantize, which runs on the host."""
    out = e.qp(node.name)
    return out is not None and out.dtype == "int8" and all(e.qp(name) == out for name in node.inputs)


def _same_params(e: Emitter, node: Node) -> None:
    if not moves_codes_as_they_are(e, node):
        raise CompileError(f"layer '{node.name}' ({node.op}): an input has other quantisation parameters "
                           f"than the output; only {node.op}s that keep int8 codes as they are lower to the DLP")


def _copy(e: Emitter, src: int, dst: int, shape: tuple[int, int, int], src_strides: tuple[int, int],
          dst_strides: tuple[int, int]) -> None:
    if shape[0] * shape[1] * shape[2] == 0:
        return
    e.emit(Move, src=Loc(Space.DRAM, src), dst=Loc(Space.DRAM, dst), shape=shape,
           src_strides=src_strides, dst_strides=dst_strides)


def _axis(node: Node, axis: int) -> int:
    return axis % len(node.shape)


def _rescaler(e: Emitter, name: str, out_name: str) -> dict[str, int] | None:
    """The ``rescale`` fields converting codes of ``name`` to those of ``out_name`` (the reference's
    ``qtensor.convert``: RQ(q - zp_in, s_in / s_out)), or None when the params are equal."""
    src, dst = e.qp(name), e.qp(out_name)
    for n, qp in ((name, src), (out_name, dst)):
        if qp is None or qp.dtype != "int8" or qp.per_channel:
            raise CompileError(f"tensor '{n}' is not per-tensor int8; not lowered")
    if src == dst:
        return None
    a, o = Q.affine(src), Q.affine(dst)
    lo, hi = Q.code_range(src)
    k = Q.preshift(hi - lo)
    mult, shift = quantize_multiplier(a.scale / o.scale / 2.0**k)
    qlo, qhi = Q.code_range(dst)
    return {"mult": mult, "shift": shift, "left_shift": k, "in_zp": a.zero_point, "out_zp": o.zero_point,
            "qmin": qlo, "qmax": qhi}


def _budget(e: Emitter) -> int:
    """Bytes of each of the four staging buffers (two in, two out) of a converting copy."""
    return (e.arch.memory.nram_kib * 1024 - 1024) // 4 // 64 * 64


def _staging(e: Emitter, nram: Arena) -> list[tuple[int, int]]:
    budget = _budget(e)
    return [(nram.alloc(f"in{i}", budget), nram.alloc(f"out{i}", budget)) for i in range(2)]


def _requant_copy(e: Emitter, bufs: list[tuple[int, int]], src: int, dst: int, rows: int, row: int,
                  src_stride: int, dst_stride: int, fields: dict[str, int]) -> None:
    """Copy ``rows`` rows of ``row`` codes through the NRAM staging ``bufs``, converting them
    with ``rescale`` (double buffered)."""
    budget = _budget(e)
    if rows == 1 or row >= budget:  # contiguous pieces of one row at a time
        pieces = [(r, c0, min(budget, row - c0)) for r in range(rows) for c0 in range(0, row, budget)]
        for i, (r, c0, n) in enumerate(pieces):
            bi, bo = bufs[i % 2]
            e.load(src + r * src_stride + c0, (Space.NRAM, bi), (1, 1, n))
            e.emit(Rescale, n=n, src=bi, dst=bo, in_dtype=DType.INT8, dtype=DType.INT8, **fields)
            e.store(bo, dst + r * dst_stride + c0, (1, 1, n))
        return
    per = max(1, budget // row)
    for i, r0 in enumerate(range(0, rows, per)):
        n = min(per, rows - r0)
        bi, bo = bufs[i % 2]
        e.load(src + r0 * src_stride, (Space.NRAM, bi), (1, n, row), src_strides=(0, src_stride))
        e.emit(Rescale, n=n * row, src=bi, dst=bo, in_dtype=DType.INT8, dtype=DType.INT8, **fields)
        e.store(bo, dst + r0 * dst_stride, (1, n, row), dst_strides=(0, dst_stride))


def lower_concat(e: Emitter, node: Node) -> Lowered:
    a = _axis(node, node.attrs.axis)
    outer, inner = numel(node.shape[:a]), numel(node.shape[a + 1:])
    row_out = node.shape[a] * inner
    parts = [(name, e.graph[name].shape[a], _rescaler(e, name, node.name)) for name in node.inputs]

    def emit(em: Emitter) -> None:
        nram, _ = em.begin(node.name, "concat")
        bufs = _staging(em, nram) if any(f is not None for _, _, f in parts) else []
        offset = 0
        for name, size, fields in parts:
            src, dst = em.addr[name], em.addr[node.name] + offset * inner
            if src == dst:  # placed in its slot by its producer (``compiler.views``)
                pass
            elif fields is None:
                _copy(em, src, dst, (1, outer, size * inner), (0, size * inner), (0, row_out))
            else:
                _requant_copy(em, bufs, src, dst, outer, size * inner, size * inner, row_out, fields)
            offset += size
    return Lowered(node, node.name, emit, 0, 2 * numel(node.shape))


def lower_slice(e: Emitter, node: Node) -> Lowered:
    _same_params(e, node)
    x = e.graph[node.inputs[0]]
    at = node.attrs
    a = _axis(x, at.axis)
    size = x.shape[a]
    start = at.start + size if at.start < 0 else at.start
    start = min(max(start, 0), size)
    count, step = node.shape[a], at.step
    if step < 1:
        raise CompileError(f"layer '{node.name}': slice with step {step} is not lowered")
    outer, inner = numel(x.shape[:a]), numel(x.shape[a + 1:])

    def emit(em: Emitter) -> None:
        em.begin(node.name, "slice")
        src, dst = em.addr[x.name] + start * inner, em.addr[node.name]
        if step == 1:
            _copy(em, src, dst, (1, outer, count * inner), (0, size * inner), (0, count * inner))
        else:
            _copy(em, src, dst, (outer, count, inner), (size * inner, step * inner), (count * inner, inner))
    return Lowered(node, node.name, emit, 0, 2 * numel(node.shape))


def lower_permute(e: Emitter, node: Node) -> Lowered:
    _same_params(e, node)
    x = e.graph[node.inputs[0]]
    perm = [p % len(x.shape) for p in node.attrs.perm]
    n = len(perm)
    in_strides = [numel(x.shape[i + 1:]) for i in range(n)]
    out_strides = [numel(node.shape[k + 1:]) for k in range(n)]
    t = 0
    while t < n and perm[n - 1 - t] == n - 1 - t:
        t += 1
    row = numel(x.shape[n - t:])
    axes = [(node.shape[k], in_strides[perm[k]], out_strides[k]) for k in range(n - t) if node.shape[k] > 1]
    loops, inner = axes[:-2], axes[-2:]
    while len(inner) < 2:
        inner.insert(0, (1, 0, 0))

    def emit(em: Emitter) -> None:
        em.begin(node.name, "permute")
        src0, dst0 = em.addr[x.name], em.addr[node.name]
        for idx in product(*(range(size) for size, _, _ in loops)):
            src = src0 + sum(i * s for i, (_, s, _) in zip(idx, loops))
            dst = dst0 + sum(i * d for i, (_, _, d) in zip(idx, loops))
            (z, zs, zd), (y, ys, yd) = inner
            _copy(em, src, dst, (z, y, row), (zs, ys), (zd, yd))
    return Lowered(node, node.name, emit, 0, 2 * numel(node.shape))


def lower_identity_average(e: Emitter, node: Node) -> Lowered:
    """An adaptive average pool whose bins are single elements (output size = input size): the
    reference's RQ(q - zp, s_in / s_out) per element, i.e. a converting copy (a plain copy when
    the params are equal: RQ with ratio 1 is exact)."""
    x = e.graph[node.inputs[0]]
    fields = _rescaler(e, x.name, node.name)
    total = numel(node.shape)

    def emit(em: Emitter) -> None:
        nram, _ = em.begin(node.name, node.op)
        if fields is None:
            _copy(em, em.addr[x.name], em.addr[node.name], (1, 1, total), (0, 0), (0, 0))
        else:
            _requant_copy(em, _staging(em, nram), em.addr[x.name], em.addr[node.name], 1, total, total, total,
                          fields)
    return Lowered(node, node.name, emit, 0, 2 * total)
