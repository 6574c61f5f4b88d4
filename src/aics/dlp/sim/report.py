"""Simulation results: aggregated counters only (per unit, per core, per layer), and their JSON form.

``utilization`` is ``sum(MACs / peak rate of their dtype) / (arch.cores * cycles)``: the fraction
of the chip's matrix-unit cycles doing useful MACs. ``bytes`` counts every byte each level reads
or writes (a DRAM -> NRAM move of B bytes counts B at DRAM and B at NRAM). ``energy_pj`` is
``MACs * pJ/MAC(dtype) + vector elements * pJ/op + bytes * pJ/byte(level)`` from ``arch.energy``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from aics.dlp.arch import Arch
from aics.dlp.isa import Unit
from aics.dlp.program import Program
from aics.dlp.sim.costs import LEVELS
from aics.dlp.sim.decode import Decoded
from aics.dlp.sim.engine import Scheduled
from aics.dlp.sim.memory import Memory
from aics.dlp.systolic import ideal_rate

UNIT_NAMES = ("load", "store", "matrix", "vector")
STALL_REASONS = ("dependency", "dram", "sync")


@dataclass(frozen=True)
class UnitStats:
    busy: int
    stalls: dict[str, int]  # by reason: dependency, dram, sync


@dataclass(frozen=True)
class LayerStats:
    tag: int
    name: str
    start: int  # first cycle any of its instructions starts
    end: int  # last cycle any of them ends
    busy: dict[str, int]  # unit -> cycles, summed over cores
    macs: int

    @property
    def cycles(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class TimingReport:
    arch: Arch
    cycles: int
    instructions: int  # dynamic, control flow excluded
    units: tuple[dict[str, UnitStats], ...]  # per core
    macs: int
    utilization: float
    bytes: dict[str, int]  # per level: dram, sram, nram, wram
    energy_pj: float
    layers: tuple[LayerStats, ...] = field(default=())
    host_cycles: int = 0  # cycles the cores waited for host ops (``host`` instructions)

    @property
    def seconds(self) -> float:
        return self.cycles / (self.arch.frequency_ghz * 1e9)

    @property
    def stalls(self) -> dict[str, int]:
        return {r: sum(u.stalls[r] for core in self.units for u in core.values()) for r in STALL_REASONS}

    def to_dict(self) -> dict[str, Any]:
        return {
            "arch": asdict(self.arch),
            "cycles": self.cycles,
            "seconds": self.seconds,
            "instructions": self.instructions,
            "busy_cycles": [{name: u.busy for name, u in core.items()} for core in self.units],
            "stalls": {**self.stalls, "per_core": [{name: dict(u.stalls) for name, u in core.items()}
                                                   for core in self.units]},
            "utilization": self.utilization,
            "macs": self.macs,
            "dram_bytes": self.bytes["dram"],
            "bytes": dict(self.bytes),
            "energy_pj": self.energy_pj,
            "host_cycles": self.host_cycles,
            "layers": [{"tag": layer.tag, "name": layer.name, "start": layer.start, "end": layer.end,
                        "cycles": layer.cycles, "busy": dict(layer.busy), "macs": layer.macs}
                       for layer in self.layers],
        }


@dataclass
class Result:
    """What a run gives: timing (timing or combined runs), outputs and final memory (functional)."""

    timing: TimingReport | None = None
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    memory: Memory | None = None

    @property
    def cycles(self) -> int:
        if self.timing is None:
            raise AttributeError("a functional-only run has no cycle count")
        return self.timing.cycles


def build_report(program: Program, arch: Arch, cycles: int, dynamic: list[np.ndarray], costs: dict[int, Decoded],
                 active: list[int], scheduled: Scheduled, first: np.ndarray, last: np.ndarray,
                 stalls: dict[int, dict[str, list[int]]], host: Sequence[tuple[int, int, int]] = ()) -> TimingReport:
    """Aggregate static costs (weighted by how often each instruction ran); ``scheduled``: the
    distinct epochs, ``first``/``last``: when each first and last started; ``stalls`` per active
    core: cycles per reason and unit; ``host`` gives each host op's (tag, start, end)."""
    units: list[dict[str, UnitStats]] = []
    macs_by_dtype: dict[str, int] = {}
    nbytes = np.zeros(4, dtype=np.int64)
    energy, count = 0.0, 0
    layer_busy: dict[int, np.ndarray] = {}
    layer_macs: dict[int, int] = {}
    for c in range(program.cores):
        if c not in active:
            units.append({name: UnitStats(0, dict.fromkeys(STALL_REASONS, 0)) for name in UNIT_NAMES})
            continue
        code, dec = program.code[c], costs[c]
        runs = np.bincount(dynamic[c], minlength=len(code))
        unit = dec.column("unit")
        runs = np.where(unit == int(Unit.CONTROL), 0, runs)
        busy_each = runs * dec.column("cycles")
        macs_each = runs * dec.column("macs")
        busy = [int(busy_each[unit == u].sum()) for u in range(4)]
        for dtype in {x.mac_dtype for x in dec.costs if x.macs}:
            mask = np.isin(dec.shape, [k for k, x in enumerate(dec.costs) if x.mac_dtype == dtype])
            macs_by_dtype[dtype] = macs_by_dtype.get(dtype, 0) + int(macs_each[mask].sum())
        per_shape = np.array([x.nbytes for x in dec.costs], dtype=np.int64).reshape(-1, 4)
        nbytes += (runs[:, None] * per_shape[dec.shape]).sum(0)
        energy += float(runs @ dec.column("energy_pj", np.float64))
        count += int(runs.sum())
        tags = dec.tag
        for tag in np.unique(tags[(tags > 0) & (runs > 0)]).tolist():
            mask = tags == tag
            layer_busy[tag] = layer_busy.get(tag, np.zeros(4, dtype=np.int64)) + np.bincount(
                unit[mask & (unit < 4)], weights=busy_each[mask & (unit < 4)], minlength=4).astype(np.int64)
            layer_macs[tag] = layer_macs.get(tag, 0) + int(macs_each[mask].sum())
        units.append({name: UnitStats(busy[u], {reason: stalls[c][reason][u] for reason in STALL_REASONS})
                      for u, name in enumerate(UNIT_NAMES)})
    spans = _layer_spans(costs, active, scheduled, first, last)
    host_busy: dict[int, int] = {}
    for tag, s, e in host:
        old = spans.get(tag, (s, e))
        spans[tag] = (min(s, old[0]), max(e, old[1]))
        host_busy[tag] = host_busy.get(tag, 0) + e - s
    zero = np.zeros(4, dtype=np.int64)
    layers = tuple(LayerStats(tag, program.layer_name(tag), s, e,
                              {**dict(zip(UNIT_NAMES, layer_busy.get(tag, zero).tolist())),
                               **({"host": host_busy[tag]} if tag in host_busy else {})},
                              layer_macs.get(tag, 0)) for tag, (s, e) in sorted(spans.items()))
    ideal = sum(Fraction(m, ideal_rate(arch.matrix, dtype)) for dtype, m in macs_by_dtype.items())
    utilization = float(ideal / (arch.cores * cycles)) if cycles else 0.0
    return TimingReport(arch, cycles, count, tuple(units), sum(macs_by_dtype.values()), utilization,
                        dict(zip(LEVELS, nbytes.tolist())), energy, layers, sum(host_busy.values()))


def _layer_spans(costs: dict[int, Decoded], active: list[int], scheduled: Scheduled, first: np.ndarray,
                 last: np.ndarray) -> dict[int, tuple[int, int]]:
    """First start and last end of every tag: each scheduled instruction's relative start and end,
    offset by its epoch's first and last start."""
    starts, ends = np.full(0, 0, dtype=np.int64), np.full(0, 0, dtype=np.int64)
    tags = np.zeros(0, dtype=np.int64)
    blocks = len(first)
    for slot, c in enumerate(active):
        if not costs[c].tag.any():
            continue
        size = np.diff(scheduled.offsets)[slot::len(active)]  # this core's slot in every block
        block = np.repeat(np.arange(blocks), size)
        at = np.repeat(scheduled.offsets[:-1][slot::len(active)] - (np.cumsum(size) - size), size) + np.arange(
            int(size.sum()))
        pos, end = scheduled.positions[at], scheduled.end[at]
        tags = np.concatenate((tags, costs[c].tag[pos]))
        starts = np.concatenate((starts, first[block] + end - costs[c].column("cycles")[pos]))
        ends = np.concatenate((ends, last[block] + end))
    keep = tags > 0
    if not keep.any():
        return {}
    names, index = np.unique(tags[keep], return_inverse=True)
    lo = np.full(len(names), np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full(len(names), np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(lo, index, starts[keep])
    np.maximum.at(hi, index, ends[keep])
    return {tag: (s, e) for tag, s, e in zip(names.tolist(), lo.tolist(), hi.tolist())}
