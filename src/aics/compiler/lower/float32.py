"""fp32 programs: the float graph on the DLP's float datapath (matrix unit fp32 MACs, vector fp32).

``aics compile --quant fp32`` keeps every tensor float32 (``as_float32``: each tensor annotated
``QuantParams("float32")``, so the integer reference runs each op's float recipe and is the float
reference). The lowering reuses the int8 code paths with 4-byte elements:

* conv2d / linear: the same tiling (``ConvShape.in_bytes`` = 4) and tile loops; the accumulators
  are fp32 and the epilogue is ``float_epilogue`` (bias add, then the clamp of a following relu,
  relu6 or clip, fused like the int8 requant clamp: ``plan_float``);
* max/avg pooling: ``pool`` in fp32; add/sub: ``eltwise`` in fp32; global average: ``reduce`` SUM
  then ``eltwise`` MUL by 1/count; relu / relu6 / clip alone: ``eltwise`` MAX / MIN;
* reshape: no code (an alias).

Everything else (sigmoid, softmax, normalisations, concat, ...), and a linear layer whose fp32
activations do not fit NRAM, runs on the host CPU. The DLP's sums run
in another order than numpy's, so fp32 programs match the float reference to float rounding
(checked within 1e-4 relative), not bit for bit.
"""

from __future__ import annotations

import numpy as np

from aics.compiler.lower.common import Emitter, Lowered, chunks, core_share, no_prologue, numel, stream_chunk
from aics.compiler.lower.weighted import _emit_conv, float_tables, lower_linear
from aics.compiler.memory import align
from aics.compiler.passes.fuse_epilogue import Epilogue
from aics.compiler.tiling import ConvShape, conv_tiling
from aics.dlp.isa import Bcast, DType, EltOp, Eltwise, Pool, PoolMode, Reduce, ReduceOp, Space
from aics.errors import CompileError
from aics.ir.graph import Graph, Node
from aics.ir.quant import QuantParams

CLAMPS = frozenset({"relu", "relu6", "clip"})
F32 = 4


def as_float32(graph: Graph) -> Graph:
    """``graph`` with every tensor annotated float32 (what an fp32 program computes)."""
    return graph.with_nodes(graph.nodes, quant={n.name: QuantParams("float32") for n in graph.nodes
                                                if n.dtype.startswith("float")})


def _clamp(node: Node) -> tuple[float, float]:
    if node.op == "relu":
        return 0.0, np.inf
    if node.op == "relu6":
        return 0.0, 6.0
    return float(node.attrs.min), float(node.attrs.max)


def plan_float(graph: Graph) -> dict[str, tuple[str, float, float, tuple[str, ...]]]:
    """For each conv2d/linear: (the tensor its fused layer writes, clamp lo, clamp hi, absorbed)."""
    users, outputs = graph.users(), set(graph.outputs)
    plan = {}
    for node in graph.nodes:
        if node.op not in ("conv2d", "linear"):
            continue
        lo, hi, current, absorbed = -np.inf, np.inf, node.name, []
        while len(users[current]) == 1 and current not in outputs and graph[users[current][0]].op in CLAMPS:
            current = users[current][0]
            c_lo, c_hi = _clamp(graph[current])
            lo, hi = max(lo, c_lo), min(hi, c_hi)
            absorbed.append(current)
        plan[node.name] = (current, lo, hi, tuple(absorbed))
    return plan


def lower_float(e: Emitter, node: Node, plan: dict[str, tuple[str, float, float, tuple[str, ...]]]
                ) -> Lowered | None:
    """The fp32 lowering of ``node``, or None when the host CPU must run it."""
    x = e.graph[node.inputs[0]] if node.inputs else None
    if node.op == "conv2d" and x is not None and x.shape[0] == 1:
        return _conv(e, node, *plan[node.name][:3])
    if node.op == "linear":
        out, lo, hi, _ = plan[node.name]
        try:
            return lower_linear(e, node, Epilogue(node.name, (), out, 0, 0), (lo, hi))
        except CompileError:  # its fp32 activations do not fit NRAM (they stay resident): the host runs it
            return None
    if node.op in ("max_pool2d", "avg_pool2d") and node.attrs.dilation == (1, 1) and not (
            node.op == "avg_pool2d" and node.attrs.ceil_mode):
        return _pool(e, node)
    if node.op in ("adaptive_avg_pool2d", "mean") and len(node.shape) in (2, 4) and x is not None and \
            len(x.shape) == 4 and numel(node.shape) == x.shape[1] and x.shape[0] == 1 and \
            (node.op != "mean" or sorted(a % 4 for a in node.attrs.axes) == [2, 3]):
        return _global_avg(e, node)
    if node.op in ("add", "sub") and all(e.graph[i].shape == node.shape and e.graph[i].op != "const"
                                         for i in node.inputs):
        return _eltwise(e, node, EltOp.ADD if node.op == "add" else EltOp.SUB, None)
    if node.op in CLAMPS:
        return _eltwise(e, node, None, _clamp(node))
    return None


def _conv(e: Emitter, node: Node, out: str, lo: float, hi: float) -> Lowered:
    x, w = e.graph[node.inputs[0]], e.graph[node.inputs[1]]
    a = node.attrs
    _, c, h, wd = x.shape
    o, cpg, kh, kw = w.shape
    shape = ConvShape(c, h, wd, o, node.shape[2], node.shape[3], kh, kw, a.stride, a.dilation, a.groups, F32)
    bias = e.graph.params[node.inputs[2]] if len(node.inputs) > 2 else None
    weights = np.asarray(e.graph.params[w.name], np.float32)
    w_addr = e.image.add(f"{node.name}.weight", weights, DType.FP32)
    t_addr = e.image.add(f"{node.name}.tables", float_tables(bias, o, lo, hi), DType.FP32)
    tiling = conv_tiling(node.name, shape, e.arch, 12 * o + 64)
    epi = Epilogue(node.name, (), out, 0, 0)
    macs = o * shape.ho * shape.wo * cpg * kh * kw
    compulsory = (weights.size + 3 * o + numel(x.shape) + numel(node.shape)) * F32

    def emit(em: Emitter) -> None:
        nram, wram = em.begin(out, "conv2d")
        _emit_conv(em, nram, wram, shape, tiling, a.padding, 0, 0, epi, em.addr[x.name], em.addr[out], w_addr,
                   t_addr, float_clamp=(lo > -np.inf, hi < np.inf))
    return Lowered(node, out, emit, macs, compulsory)


def _nram_free(e: Emitter) -> int:
    return e.arch.memory.nram_kib * 1024 - 1024


def _pool(e: Emitter, node: Node) -> Lowered:
    x, a = e.graph[node.inputs[0]], node.attrs
    _, c, h, w = x.shape
    ho, wo = node.shape[2], node.shape[3]
    (kh, kw), (sh, sw) = a.kernel, a.stride
    t, b, l, r = a.padding
    b = max(b, (ho - 1) * sh + kh - h - t)  # ceil_mode: extra rows/cols that never win a max
    r = max(r, (wo - 1) * sw + kw - w - l)
    free = _nram_free(e)
    c_t = min(c, free // (2 * (align(h * w * F32) + align(ho * wo * F32))))
    if c_t < 1:
        raise CompileError(f"layer '{node.name}': one fp32 channel needs {(h * w + ho * wo) * F32:,} bytes of "
                           f"NRAM, {free:,} are free")
    avg = node.op == "avg_pool2d"

    def emit(em: Emitter) -> None:
        nram, _ = em.begin(node.name, node.op)
        ins = [nram.alloc(f"in{i}", c_t * h * w * F32) for i in range(2)]
        outs = [nram.alloc(f"out{i}", c_t * ho * wo * F32) for i in range(2)]
        src, dst = em.addr[x.name], em.addr[node.name]

        def body(i: int, chunk: tuple[int, int]) -> None:
            (c0, cn), j = chunk, i % 2
            em.load(src + c0 * h * w * F32, (Space.NRAM, ins[j]), (1, 1, cn * h * w * F32))
            em.emit(Pool, mode=PoolMode.AVG if avg else PoolMode.MAX, dtype=DType.FP32, c=cn, h=h, w=w,
                    kernel=a.kernel, src=ins[j], dst=outs[j], stride=a.stride, pad=(t, b, l, r),
                    count_pad=bool(avg and a.count_include_pad), pad_value=0)
            em.store(outs[j], dst + c0 * ho * wo * F32, (1, 1, cn * ho * wo * F32))
        em.on_cores(chunks(c, core_share(c, c_t, em)), no_prologue, body)
    return Lowered(node, node.name, emit, 0, (numel(x.shape) + numel(node.shape)) * F32)


def _global_avg(e: Emitter, node: Node) -> Lowered:
    x = e.graph[node.inputs[0]]
    _, c, h, w = x.shape
    count = h * w
    scale = e.image.add(f"{node.name}.scale", np.array([1.0 / count], np.float32), DType.FP32)
    free = _nram_free(e)
    c_t = min(c, free // (2 * (align(count * F32) + 2 * F32)))
    if c_t < 1:
        raise CompileError(f"layer '{node.name}': one fp32 channel needs {count * F32:,} bytes of NRAM, "
                           f"{free:,} are free")

    def emit(em: Emitter) -> None:
        nram, _ = em.begin(node.name, node.op)
        k = nram.alloc("scale", F32)
        ins = [nram.alloc(f"in{i}", c_t * count * F32) for i in range(2)]
        sums = [nram.alloc(f"sum{i}", c_t * F32) for i in range(2)]
        src, dst = em.addr[x.name], em.addr[node.name]

        def body(i: int, chunk: tuple[int, int]) -> None:
            (c0, cn), j = chunk, i % 2
            em.load(src + c0 * count * F32, (Space.NRAM, ins[j]), (1, 1, cn * count * F32))
            em.emit(Reduce, op=ReduceOp.SUM, dtype=DType.FP32, rows=cn, cols=count, axis=1, src=ins[j], dst=sums[j])
            em.emit(Eltwise, op=EltOp.MUL, dtype=DType.FP32, rows=1, cols=cn, a=sums[j], b=k, out=sums[j],
                    bcast=Bcast.ROW)
            em.store(sums[j], dst + c0 * F32, (1, 1, cn * F32))
        em.on_cores(chunks(c, core_share(c, c_t, em)),
                    lambda: em.load(scale, (Space.NRAM, k), (1, 1, F32)), body)
    return Lowered(node, node.name, emit, 0, (numel(x.shape) + numel(node.shape)) * F32)


def _eltwise(e: Emitter, node: Node, op: EltOp | None, clamp: tuple[float, float] | None) -> Lowered:
    """add/sub of two tensors (``op``) or a clamp of one (``clamp``: MAX lo then MIN hi)."""
    total = numel(node.shape)
    operands = 2 if op is not None else 1
    chunk = stream_chunk(e, total, 2 * (operands + 1) * F32)
    bounds = None
    if clamp is not None:
        bounds = e.image.add(f"{node.name}.bounds", np.array(clamp, np.float32), DType.FP32)

    def emit(em: Emitter) -> None:
        nram, _ = em.begin(node.name, node.op)
        lim = nram.alloc("bounds", 2 * F32)
        bufs = [[nram.alloc(f"x{i}{k}", chunk * F32) for k in range(operands)] for i in range(2)]
        srcs, dst = [em.addr[i] for i in node.inputs[:operands]], em.addr[node.name]

        def body(i: int, piece: tuple[int, int]) -> None:
            (p0, n), buf = piece, bufs[i % 2]
            for addr, b in zip(srcs, buf):
                em.load(addr + p0 * F32, (Space.NRAM, b), (1, 1, n * F32))
            if op is not None:
                em.emit(Eltwise, op=op, dtype=DType.FP32, rows=1, cols=n, a=buf[0], b=buf[1], out=buf[0])
            else:
                assert clamp is not None
                for k, (side, value) in enumerate(((EltOp.MAX, clamp[0]), (EltOp.MIN, clamp[1]))):
                    if np.isfinite(value):
                        em.emit(Eltwise, op=side, dtype=DType.FP32, rows=1, cols=n, a=buf[0], b=lim + k * F32,
                                out=buf[0], bcast=Bcast.ROW)
            em.store(buf[0], dst + p0 * F32, (1, 1, n * F32))
        prologue = (lambda: em.load(bounds, (Space.NRAM, lim), (1, 1, 2 * F32))) if bounds is not None else no_prologue
        em.on_cores(chunks(total, core_share(total, chunk, em)), prologue, body)
    return Lowered(node, node.name, emit, 0, (operands + 1) * total * F32)
