"""Architecture of a DLP: a frozen dataclass tree, loaded from TOML (see ``aics.dlp.arch_io``).

Units: memory sizes in KiB (1 KiB = 1024 B); bandwidths in GB/s (1 GB = 1e9 B); latencies in cycles;
frequency in GHz. Every report echoes the resolved arch.

``validate`` holds every rule an arch must satisfy, so an arch built in code, loaded from TOML,
converted from a SCALE-Sim ``.cfg`` or changed by ``with_overrides`` passes the same checks.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Iterator, Literal

from aics.errors import ArchError

Dataflow = Literal["os", "ws", "is"]
MatrixKind = Literal["systolic", "ideal"]
DType = Literal["int8", "int16", "fp16", "fp32"]

DTYPE_BYTES: dict[str, int] = {"int8": 1, "int16": 2, "fp16": 2, "fp32": 4}
ACCUMULATOR_BYTES = 4  # int32 / fp32 partial sums
ENERGY_LEVELS = ("dram", "sram", "nram", "wram")
# Vector-unit op names carry their width, as the textbook's ADD_32 or DIV_16.
VECTOR_OP_NAME = re.compile(r"[A-Z][A-Z0-9]*_(8|16|32)")
Problems = Iterator[tuple[str, str]]  # (dotted field, what is wrong)


@dataclass(frozen=True)
class MatrixUnit:
    """The matrix (MAC) unit of one core.

    ``systolic``: a rows x cols array with a dataflow; time per tile follows SCALE-Sim's model.
    ``ideal``: ``ceil(ops / rate)`` cycles, rate from ``macs_per_cycle`` per dtype (textbook presets).
    """

    kind: MatrixKind = "systolic"
    rows: int = 32
    cols: int = 32
    dataflow: Dataflow = "os"
    # MACs per cycle per dtype; for systolic arrays rows*cols for each supported dtype.
    macs_per_cycle: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class VectorUnit:
    """The vector unit of one core: ``lanes`` elements per cycle for each op, per dtype."""

    lanes: int = 64
    # Optional per-op rates (elements per cycle), e.g. {"ADD_32": 256, "DIV_32": 32}; lanes otherwise.
    ops_per_cycle: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Memories:
    """On-chip scratchpads: NRAM (neurons) and WRAM (weights) per core, SharedRAM per cluster."""

    nram_kib: int = 512
    wram_kib: int = 512
    sram_kib: int = 0  # SharedRAM; 0 = none
    sram_bandwidth_gbps: float = 0.0  # per core link SharedRAM <-> core


@dataclass(frozen=True)
class Dram:
    """Off-chip memory: one channel shared by all cores, ``latency + bytes / bandwidth`` a transfer."""

    bandwidth_gbps: float = 25.6  # total, shared by all cores
    latency_cycles: int = 100


@dataclass(frozen=True)
class Energy:
    """Energy per operation (pJ): per MAC by dtype, per byte moved at each memory level."""

    pj_per_mac: dict[str, float] = field(default_factory=dict)
    pj_per_vector_op: float = 0.0
    pj_per_byte: dict[str, float] = field(default_factory=dict)  # keys: dram, sram, nram, wram


@dataclass(frozen=True)
class Host:
    """The host CPU that runs ops the DLP cannot: a simple roofline model."""

    gflops: float = 50.0
    bandwidth_gbps: float = 20.0


@dataclass(frozen=True)
class Arch:
    """A whole DLP: ``cores`` identical cores (matrix, vector, NRAM, WRAM) around a SharedRAM and
    one DRAM channel; build it with ``aics.dlp.arch_io.load_arch`` so it is validated."""

    name: str
    frequency_ghz: float = 1.0
    cores: int = 1
    matrix: MatrixUnit = field(default_factory=MatrixUnit)
    vector: VectorUnit = field(default_factory=VectorUnit)
    memory: Memories = field(default_factory=Memories)
    dram: Dram = field(default_factory=Dram)
    energy: Energy = field(default_factory=Energy)
    host: Host = field(default_factory=Host)
    source: str = ""  # where the numbers come from (paper, datasheet)

    def peak_macs_per_cycle(self) -> tuple[int, str]:
        """The fastest (rate, dtype) of one core's matrix unit; ties go to the narrower dtype."""
        rates = self.matrix.macs_per_cycle or {"int8": self.matrix.rows * self.matrix.cols}
        dtype = max(rates, key=lambda d: (rates[d], -DTYPE_BYTES.get(d, 0)))
        return rates[dtype], dtype

    @property
    def peak_gmacs(self) -> float:
        """Peak GMAC/s of the whole chip (all cores, fastest dtype)."""
        return self.cores * self.peak_macs_per_cycle()[0] * self.frequency_ghz


def min_buffer_bytes(unit: MatrixUnit) -> tuple[int, int]:
    """Smallest (NRAM, WRAM) in bytes that still holds one tile of the array.

    A tile is ``rows x cols`` elements of the narrowest dtype the unit supports (``e`` bytes):
    WRAM must hold one tile of weights (``rows*cols*e``), NRAM one tile of input operands plus
    the tile's 32-bit accumulators (``rows*cols*(e + 4)``), since partial sums leave the array
    at full width before requantisation. Anything smaller cannot run even a single tile, whatever
    the compiler does, so such an arch is rejected on load instead of failing at compile time.
    """
    dtypes = unit.macs_per_cycle or {"int8": 0}
    elem = min(DTYPE_BYTES.get(d, 1) for d in dtypes)
    tile = unit.rows * unit.cols
    return tile * (elem + ACCUMULATOR_BYTES), tile * elem


def validate(arch: Arch, where: str = "<arch>") -> Arch:
    """Check every rule; raise ``ArchError("WHERE: FIELD: problem")`` on the first broken one."""
    broken = next(iter(problems(arch)), None)
    if broken is not None:
        raise ArchError(f"{where}: {broken[0]}: {broken[1]}")
    return arch


def problems(a: Arch) -> Problems:
    """Every broken rule as (dotted field, message), in field order; empty for a valid arch."""
    if not a.name.strip():
        yield "name", "must not be empty"
    yield from _positive("frequency_ghz", a.frequency_ghz)
    if a.cores < 1:
        yield "cores", f"must be at least 1, got {a.cores}"
    m = a.matrix
    yield from _positive("matrix.rows", m.rows)
    yield from _positive("matrix.cols", m.cols)
    if not m.macs_per_cycle:
        yield "matrix.macs_per_cycle", "must list at least one dtype, e.g. { int8 = 1024 }"
    for dtype, rate in m.macs_per_cycle.items():
        key = f"matrix.macs_per_cycle.{dtype}"
        if dtype not in DTYPE_BYTES:
            yield key, f"unknown dtype (one of {', '.join(DTYPE_BYTES)})"
        yield from _positive(key, rate)
        if m.kind == "systolic" and rate != m.rows * m.cols:
            yield key, (f"{rate} contradicts rows*cols = {m.rows * m.cols} of a systolic array "
                        "(every PE does one MAC per cycle)")
    yield from _positive("vector.lanes", a.vector.lanes)
    for op, rate in a.vector.ops_per_cycle.items():
        key = f"vector.ops_per_cycle.{op}"
        if not VECTOR_OP_NAME.fullmatch(op):
            yield key, "op names are OP_WIDTH in capitals, e.g. ADD_32 or DIV_16"
        yield from _positive(key, rate)
    yield from _memory_problems(a)
    yield from _positive("dram.bandwidth_gbps", a.dram.bandwidth_gbps)
    if a.dram.latency_cycles < 0:
        yield "dram.latency_cycles", f"must be >= 0, got {a.dram.latency_cycles}"
    yield from _energy_problems(a.energy)
    yield from _positive("host.gflops", a.host.gflops)
    yield from _positive("host.bandwidth_gbps", a.host.bandwidth_gbps)


def _memory_problems(a: Arch) -> Problems:
    mem = a.memory
    yield from _positive("memory.nram_kib", mem.nram_kib)
    yield from _positive("memory.wram_kib", mem.wram_kib)
    if mem.sram_kib < 0:
        yield "memory.sram_kib", f"must be >= 0, got {mem.sram_kib}"
    if not math.isfinite(mem.sram_bandwidth_gbps) or mem.sram_bandwidth_gbps < 0:
        yield "memory.sram_bandwidth_gbps", f"must be >= 0, got {mem.sram_bandwidth_gbps}"
    if mem.sram_kib > 0 and mem.sram_bandwidth_gbps == 0:
        yield "memory.sram_bandwidth_gbps", "must be > 0 when sram_kib > 0 (the SharedRAM link)"
    if mem.sram_kib == 0 and mem.sram_bandwidth_gbps > 0:
        yield "memory.sram_bandwidth_gbps", "is set but sram_kib = 0 (no SharedRAM to link to)"
    if mem.nram_kib <= 0 or mem.wram_kib <= 0 or not a.matrix.macs_per_cycle:
        return
    need_nram, need_wram = min_buffer_bytes(a.matrix)
    shape = f"{a.matrix.rows}x{a.matrix.cols}"
    if mem.wram_kib * 1024 < need_wram:
        yield "memory.wram_kib", (f"{mem.wram_kib} KiB cannot hold one {shape} weight tile "
                                  f"({need_wram} B)")
    if mem.nram_kib * 1024 < need_nram:
        yield "memory.nram_kib", (f"{mem.nram_kib} KiB cannot hold one {shape} operand tile "
                                  f"plus its 32-bit accumulators ({need_nram} B)")


def _energy_problems(e: Energy) -> Problems:
    for dtype, pj in e.pj_per_mac.items():
        key = f"energy.pj_per_mac.{dtype}"
        if dtype not in DTYPE_BYTES:
            yield key, f"unknown dtype (one of {', '.join(DTYPE_BYTES)})"
        yield from _non_negative(key, pj)
    yield from _non_negative("energy.pj_per_vector_op", e.pj_per_vector_op)
    for level, pj in e.pj_per_byte.items():
        key = f"energy.pj_per_byte.{level}"
        if level not in ENERGY_LEVELS:
            yield key, f"unknown memory level (one of {', '.join(ENERGY_LEVELS)})"
        yield from _non_negative(key, pj)


def _positive(key: str, value: float) -> Problems:
    if not math.isfinite(value) or value <= 0:
        yield key, f"must be > 0, got {value}"


def _non_negative(key: str, value: float) -> Problems:
    if not math.isfinite(value) or value < 0:
        yield key, f"must be >= 0, got {value}"
