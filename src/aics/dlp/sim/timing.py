"""Timing simulation: cost every static instruction, find hazards, schedule epoch by epoch, aggregate.

Barrier k starts epoch k: ``start[k+1] = start[k] + span[k] + host[k]``, where ``span[k]`` is the
last end, from the epoch's start, of any instruction of the epoch (``engine``) and ``host[k]`` the
cycles of the host op run at that barrier when it is a ``host`` instruction (0 for ``sync``). Epochs with the same code on
every core have the same schedule, so each distinct epoch is scheduled once (loops of synced
rounds cost one schedule). Only aggregated counters are kept; the trace, when asked for, is
streamed to its file.
"""

from __future__ import annotations

import gc
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from aics.dlp.arch import Arch
from aics.dlp.isa import HostCall, Unit
from aics.dlp.program import Program
from aics.dlp.sim import flow, hazards
from aics.dlp.sim.costs import CostModel
from aics.dlp.sim.decode import Decoded, decode
from aics.dlp.sim.engine import Epoch, Facts, schedule
from aics.dlp.sim.report import Result, TimingReport, build_report
from aics.dlp.sim.trace import write_trace
from aics.errors import SimulationError


def check_program(program: Program, arch: Arch) -> None:
    """Refuse a program built for another machine or for more cores than ``arch`` has."""
    if program.cores > arch.cores:
        raise SimulationError(f"the program has code for {program.cores} cores, the arch {arch.name} "
                              f"has {arch.cores}")
    if program.arch_fingerprint:
        from aics.dlp.program import arch_fingerprint

        if program.arch_fingerprint != arch_fingerprint(arch):
            raise SimulationError(f"the program was built for the arch {program.arch_name or '?'}, not for "
                                  f"{arch.name} (arch fingerprints differ)")


def run(program: Program, arch: Arch, inputs: dict[str, np.ndarray] | None = None,
        trace: str | os.PathLike[str] | None = None) -> Result:
    """The timing simulator behind the shared interface (``inputs`` do not change timing)."""
    return Result(timing=simulate(program, arch, trace))


@dataclass(slots=True)
class Occurrences:
    """A distinct epoch: its schedule (per active core), how often it ran, first and last start."""

    schedule: list[Epoch]
    busy_units: tuple[tuple[int, int, int], ...]  # (core slot, unit, relative last end)
    span: int
    count: int = 0
    first: int = 0
    last: int = 0


@contextmanager
def _without_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: the simulator allocates millions of small acyclic
    tuples, and each automatic collection walks all of them again (8x slower on 200k
    instructions). Reference counting still frees everything; the previous state is restored."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def simulate(program: Program, arch: Arch, trace: str | os.PathLike[str] | None = None) -> TimingReport:
    """Cycle timing of ``program`` on ``arch``; ``trace`` names a Chrome/Perfetto JSON to write."""
    with _without_gc():
        return _simulate(program, arch, trace)


@dataclass
class _Core:
    """What the epoch loop needs of one active core, computed once from its static code."""

    positions: np.ndarray  # the dynamic stream (static indices)
    decoded: Decoded
    facts: Facts
    distances: np.ndarray | None  # per dynamic position, backward distance per unit (0: none); None: no addresses
    bounds: list[int]  # -1, the sync positions, len(positions): epoch k is (bounds[k], bounds[k+1])
    barriers: list[tuple[int, int]]  # per barrier: (host cycles, tag); (0, tag) for a sync

    def __post_init__(self) -> None:
        self.raw = self.positions.tobytes()  # bytes slices are cheap dictionary keys

    def key(self, k: int) -> bytes:
        """What identifies epoch ``k``: its instructions."""
        return self.raw[8 * (self.bounds[k] + 1):8 * self.bounds[k + 1]]

    def epoch(self, k: int) -> Epoch:
        """Epoch ``k``, to be scheduled."""
        a, b = self.bounds[k] + 1, self.bounds[k + 1]
        return Epoch(self.positions[a:b], None, self.facts, None if self.distances is None else self.distances[a:b])


def _simulate(program: Program, arch: Arch, trace: str | os.PathLike[str] | None) -> TimingReport:
    check_program(program, arch)
    trees = [flow.blocks(code) for code in program.code]
    dynamic = flow.streams(program, trees)
    model = CostModel(arch, program.dram_size)
    active = [c for c, stream in enumerate(dynamic) if len(stream)]
    cores = [_prepare(program, c, trees[c], dynamic[c], model) for c in active]
    cycles, distinct, stall_sync, timeline, host = _run_epochs(cores, keep_timeline=trace is not None)
    report = build_report(program, arch, cycles, dynamic, {c: core.decoded for c, core in zip(active, cores)},
                          active, distinct, dict(zip(active, stall_sync)), host)
    if trace is not None:
        write_trace(trace, program, arch, active, timeline, host)
    return report


def _prepare(program: Program, c: int, tree: flow.Block, positions: np.ndarray, model: CostModel) -> _Core:
    code = program.code[c]
    decoded = decode(code, model, c)
    unit = decoded.column("unit")
    facts = Facts(unit, decoded.column("cycles"), decoded.column("dram", bool))
    sync = unit == int(Unit.CONTROL)  # loop/endloop never reach the stream, nor the analysis
    distances = (hazards.distances(tree, unit, decoded.ranges, sync) if len(decoded.ranges.owner)
                 else None)  # the textbook form: no addresses, only sync orders the units
    syncs = np.flatnonzero(unit[positions] == int(Unit.CONTROL)).tolist()
    static = positions[syncs].tolist()
    kinds = {s: (code[s].cycles, code[s].tag) if isinstance(code[s], HostCall) else (0, code[s].tag)
             for s in set(static)}  # each static barrier looked at once (encoded code decodes it)
    barriers = [kinds[s] for s in static]
    return _Core(positions, decoded, facts, distances, [-1, *syncs, len(positions)], barriers)


def _run_epochs(cores: list[_Core], keep_timeline: bool) -> tuple[
        int, list[Occurrences], list[list[int]], list[tuple[int, Occurrences]], list[tuple[int, int, int]]]:
    """Walk the epochs in order: total cycles, the distinct epochs, sync stalls per core and unit,
    (for the trace) each epoch's start and schedule, and the host ops' (tag, start, end)."""
    epochs = len(cores[0].bounds) - 1 if cores else 0
    ids: dict[tuple[bytes, ...], int] = {}
    which = [ids.setdefault(tuple(core.key(k) for core in cores), len(ids)) for k in range(epochs)]
    firsts = np.unique(which, return_index=True)[1].tolist() if epochs else []  # ids: in order of first use
    blocks = [[core.epoch(k) for core in cores] for k in firsts]
    schedule(blocks)  # every distinct epoch, in one call
    distinct = [_occurrences(block) for block in blocks]
    stall_sync = [[0, 0, 0, 0] for _ in cores]
    last_end = [[0, 0, 0, 0] for _ in cores]  # absolute end of each unit's last instruction
    timeline: list[tuple[int, Occurrences]] = []
    host: list[tuple[int, int, int]] = []
    start = 0
    for k in range(epochs):
        occ = distinct[which[k]]
        if not occ.count:
            occ.first = start
        occ.count += 1
        occ.last = start
        for slot, unit, end in occ.busy_units:
            if k:
                stall_sync[slot][unit] += start - last_end[slot][unit]
            last_end[slot][unit] = start + end
        if keep_timeline:
            timeline.append((start, occ))
        start += occ.span
        if k < len(cores[0].barriers) and cores[0].barriers[k][0]:
            cycles, tag = cores[0].barriers[k]
            host.append((tag, start, start + cycles))
            start += cycles
    return start, distinct, stall_sync, timeline, host


def _occurrences(epochs: list[Epoch]) -> Occurrences:
    busy = tuple((slot, unit, end) for slot, epoch in enumerate(epochs) for unit, end in enumerate(epoch.last_end)
                 if end >= 0)
    return Occurrences(epochs, busy, max((end for _, _, end in busy), default=0))
