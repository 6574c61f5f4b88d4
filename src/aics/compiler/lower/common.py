"""What every lowering shares: the emitter (instructions, layer tags, arenas) and tensor places.

Lowering one layer is two steps. ``prepare`` runs before any activation has an address: it
chooses the tiling and appends the layer's constants to the DRAM image (weights in tile order,
per-channel tables, LUTs). ``emit`` then writes the instructions, reading the DRAM addresses of
its tensors from ``Emitter.addr``. Activations are NCHW int8 codes in DRAM (row-major, batch 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from aics.compiler.memory import Arena, DramImage
from aics.dlp.arch import Arch
from aics.dlp.isa import Bcast, DType, EltOp, Eltwise, Instr, Loc, Move, Rescale, Space, Sync
from aics.dlp.program import HostOp, TensorDesc
from aics.errors import CompileError
from aics.ir.graph import Graph, Node
from aics.ir.quant import QuantParams
from aics.numerics import quantize_multiplier
from aics.reference import qtensor as Q



@dataclass
class LayerInfo:
    """What the report says about a layer: its tag, MACs and compulsory DRAM bytes."""

    name: str
    tag: int
    op: str
    macs: int = 0
    compulsory_bytes: int = 0  # weights + tables + input + output, read/written once
    nram_span: tuple[int, int] = (0, 0)  # the NRAM addresses [lo, hi) the layer's own buffers use


@dataclass
class Emitter:
    graph: Graph
    arch: Arch
    view: Q.QuantView
    image: DramImage = field(default_factory=DramImage)
    code: list[list[Instr]] = field(default_factory=list)  # per core
    addr: dict[str, int] = field(default_factory=dict)  # tensor name -> DRAM address
    layers: list[LayerInfo] = field(default_factory=list)
    consts: dict[str, np.ndarray] = field(default_factory=dict)  # int codes of the graph's consts
    host_ops: list[HostOp] = field(default_factory=list)  # layers run by the host CPU (``lower.host``)
    tag: int = 0
    core: int = 0  # the core instructions go to
    _nram: Arena | None = field(default=None, init=False, repr=False)  # the current layer's NRAM arena

    def __post_init__(self) -> None:
        self.code = [[] for _ in range(self.arch.cores)]

    def begin(self, name: str, op: str) -> tuple[Arena, Arena]:
        """Start a layer: a new tag and empty NRAM/WRAM arenas."""
        self.tag = len(self.layers) + 1
        self.layers.append(LayerInfo(name, self.tag, op))
        mem, top = self.arch.memory, self.tag % 2 == 0  # layers alternate ends of the buffers
        self._nram = Arena("NRAM", mem.nram_kib * 1024, name, top)
        return self._nram, Arena("WRAM", mem.wram_kib * 1024, name, top)

    @property
    def info(self) -> LayerInfo:
        return self.layers[-1]

    def emit(self, cls: type[Instr], **fields: Any) -> None:
        self.code[self.core].append(cls(tag=self.tag, **fields))

    def on_cores(self, items: list[Any], prologue: Callable[[], None], body: Callable[[int, Any], None]) -> None:
        """Split ``items`` (independent tiles) into contiguous shares, one per core: each core runs
        ``prologue`` (its resident loads: NRAM/WRAM are per core, so the same addresses serve every
        core) and then ``body(i, item)`` for its share (``i`` counts within the core: double buffers)."""
        n = len(items)
        cores = max(1, min(self.arch.cores, n))
        for k in range(cores):
            self.core = k
            prologue()
            for i, item in enumerate(items[k * n // cores:(k + 1) * n // cores]):
                body(i, item)
        self.core = 0

    def end_layer(self) -> None:
        """Record the layer's NRAM span; a barrier on every core after a layer when there are
        several cores: the next layer reads from DRAM what all cores wrote (one core needs none:
        hazards order its accesses)."""
        assert self._nram is not None, "end_layer() without begin()"
        self.info.nram_span = self._nram.span
        if self.arch.cores > 1:
            for k in range(self.arch.cores):
                self.code[k].append(Sync(tag=self.tag))

    def load(self, src: int, dst: tuple[Space, int], shape: tuple[int, int, int],
             src_strides: tuple[int, int] | None = None) -> None:
        """DMA DRAM -> on chip (contiguous destination)."""
        self.emit(Move, src=Loc(Space.DRAM, src), dst=Loc(dst[0], dst[1]), shape=shape, src_strides=src_strides)

    def store(self, src: int, dst: int, shape: tuple[int, int, int],
              dst_strides: tuple[int, int] | None = None) -> None:
        """DMA NRAM -> DRAM (contiguous source)."""
        self.emit(Move, src=Loc(Space.NRAM, src), dst=Loc(Space.DRAM, dst), shape=shape, dst_strides=dst_strides)

    def qp(self, name: str) -> Any:
        return self.view.qp(name)


ADD_LEFT_SHIFT = 20  # TFLite ADD/SUB's int8 left shift (``int_elementwise._add_sub``)


def add_fields(e: Emitter, a: str, b: str, out: str, qmin: int | None = None, qmax: int | None = None
               ) -> dict[str, dict[str, int]]:
    """The three ``rescale`` field sets of TFLite ADD/SUB of int8 tensors ``a`` and ``b`` into
    ``out`` (optionally clamped to [qmin, qmax], a fused activation): ``a`` and ``b`` to int32 on a
    common scale, then the sum to ``out``'s codes."""
    qa, qb, qo = (Q.affine(e.qp(n)) for n in (a, b, out))
    twice = 2.0 * max(qa.scale, qb.scale)
    ma, mb = quantize_multiplier(qa.scale / twice), quantize_multiplier(qb.scale / twice)
    mo = quantize_multiplier(twice / ((1 << ADD_LEFT_SHIFT) * qo.scale))
    lo, hi = Q.code_range(e.qp(out))
    return {"a": dict(mult=ma[0], shift=ma[1], left_shift=ADD_LEFT_SHIFT, in_zp=qa.zero_point, out_zp=0),
            "b": dict(mult=mb[0], shift=mb[1], left_shift=ADD_LEFT_SHIFT, in_zp=qb.zero_point, out_zp=0),
            "o": dict(mult=mo[0], shift=mo[1], left_shift=0, in_zp=0, out_zp=qo.zero_point,
                      qmin=lo if qmin is None else qmin, qmax=hi if qmax is None else qmax)}


def emit_add(e: Emitter, a: int, b: int, sa: int, sb: int, out: int, n: int, fields: dict[str, dict[str, int]],
             op: EltOp = EltOp.ADD) -> None:
    """TFLite ADD/SUB of ``n`` int8 codes at NRAM ``a`` and ``b`` into ``out`` (``add_fields``),
    through the int32 scratch buffers ``sa`` and ``sb``."""
    e.emit(Rescale, n=n, src=a, dst=sa, in_dtype=DType.INT8, dtype=DType.INT32, **fields["a"])
    e.emit(Rescale, n=n, src=b, dst=sb, in_dtype=DType.INT8, dtype=DType.INT32, **fields["b"])
    e.emit(Eltwise, op=op, dtype=DType.INT32, rows=1, cols=n, a=sa, b=sb, out=sa, bcast=Bcast.NONE)
    e.emit(Rescale, n=n, src=sa, dst=out, in_dtype=DType.INT32, dtype=DType.INT8, **fields["o"])


def numel(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64))


@dataclass
class Lowered:
    """A layer ready to emit: the nodes it computes and the function writing its code."""

    anchor: Node
    output: str  # the tensor it writes
    emit: Callable[[Emitter], None]
    macs: int = 0
    compulsory_bytes: int = 0


def tensor_dtype(qp: QuantParams | None, node: Node) -> DType:
    """How a tensor lies in DRAM: int8/int16 codes, int32 token ids, or float32 for tensors that
    stay float."""
    if not node.dtype.startswith("float"):
        return DType.INT32  # token ids
    if qp is None or qp.dtype == "float32":
        return DType.FP32
    if qp.dtype in ("int8", "int16", "int32"):
        return DType[qp.dtype.upper()]
    raise CompileError(f"tensor '{node.name}': {qp.dtype} tensors cannot live in the DLP's DRAM "
                       f"(the compiler handles affine int8/int16 and float32)")


def describe(e: Emitter, name: str, tensor: str) -> TensorDesc:
    """The descriptor of ``tensor`` at its DRAM address, named ``name``."""
    node = e.graph[tensor]
    qp = e.qp(tensor)
    dtype = tensor_dtype(qp, node)
    if dtype in (DType.FP32, DType.INT32) or qp is None:
        return TensorDesc(name, e.addr[tensor], node.shape, dtype)
    a = Q.affine(qp)
    return TensorDesc(name, e.addr[tensor], node.shape, dtype, float(a.scale), int(a.zero_point))


def chunks(total: int, size: int) -> list[tuple[int, int]]:
    """``(start, length)`` pieces of ``size`` covering ``total``."""
    return [(i, min(size, total - i)) for i in range(0, total, size)]


def core_share(total: int, chunk: int, e: Emitter) -> int:
    """A chunk size that gives every core work: at most ``chunk``, at most total / cores (rounded
    up to 64 elements so vector rows stay aligned)."""
    per_core = -(-total // e.arch.cores)
    return max(1, min(chunk, -(-per_core // 64) * 64 if per_core > 64 else per_core))


def stream_chunk(e: Emitter, total: int, per_elem: int) -> int:
    """Elements per chunk of a streaming vector op needing ``per_elem`` NRAM bytes per element (all
    operands and both buffers): a multiple of 64 that fits NRAM less 1 KiB, at most ``total``."""
    free = e.arch.memory.nram_kib * 1024 - 1024
    return max(64, min(total, (free // per_elem) // 64 * 64))


def no_prologue() -> None:
    """For ``Emitter.on_cores`` when a core loads nothing resident."""
