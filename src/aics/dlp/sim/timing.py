"""Timing simulation: cost every static instruction, find hazards, schedule epoch by epoch, aggregate.

Barrier k starts epoch k: ``start[k+1] = start[k] + span[k] + host[k]``, where ``span[k]`` is the
last end, from the epoch's start, of any instruction of the epoch (``engine``) and ``host[k]`` the
cycles of the host op run at that barrier when it is a ``host`` instruction (0 for ``sync``).
Epochs with the same code on every core have the same schedule, so each distinct epoch is
scheduled once (loops of synced rounds cost one schedule), all of them in one call. Only
aggregated counters are kept; the trace, when asked for, is streamed to its file.
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
    count: int
    first: int
    last: int


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
    cycles, distinct, stalls, timeline, host = _run_epochs(cores, keep_timeline=trace is not None)
    report = build_report(program, arch, cycles, dynamic, {c: core.decoded for c, core in zip(active, cores)},
                          active, distinct, dict(zip(active, stalls)), host)
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
    static = positions[syncs]
    host_cycles = np.array([ex.cycles if isinstance(ex, HostCall) else 0 for ex in decoded.examples], dtype=np.int64)
    barriers = list(zip(host_cycles[decoded.shape[static]].tolist(), decoded.tag[static].tolist()))
    return _Core(positions, decoded, facts, distances, [-1, *syncs, len(positions)], barriers)


def _run_epochs(cores: list[_Core], keep_timeline: bool) -> tuple[
        int, list[Occurrences], list[dict[str, list[int]]], list[tuple[int, Occurrences]], list[tuple[int, int, int]]]:
    """Place the epochs in time: total cycles, the distinct epochs, stall cycles per core by reason
    and unit, (for the trace) each epoch's start and schedule, and the host ops' (tag, start, end).
    Epoch k starts at ``sum(span + host cycles)`` of the epochs before it; a unit's sync stall is
    the gap between its last end in an epoch and the start of the next epoch where it is busy."""
    epochs = len(cores[0].bounds) - 1 if cores else 0
    ids: dict[tuple[bytes, ...], int] = {}
    which = np.array([ids.setdefault(tuple(core.key(k) for core in cores), len(ids)) for k in range(epochs)],
                     dtype=np.int64)
    firsts = np.unique(which, return_index=True)[1]  # ids are numbered in order of first use
    blocks = [[core.epoch(k) for core in cores] for k in firsts.tolist()]
    stats = schedule(blocks)  # every distinct epoch, in one call
    ends = stats.last_end[which]  # (epochs, cores, units), relative; -1: idle
    span = np.maximum(ends.max(axis=(1, 2), initial=-1), 0)
    barriers = np.array(cores[0].barriers, dtype=np.int64).reshape(-1, 2) if cores else np.zeros((0, 2), np.int64)
    host_cycles = np.zeros(epochs, dtype=np.int64)
    host_cycles[:len(barriers)] = barriers[:, 0]
    starts = np.concatenate(([0], np.cumsum(span + host_cycles)))  # starts[epochs]: the end of the run
    sync = np.zeros((len(cores), 4), dtype=np.int64)
    for slot in range(len(cores)):
        for unit in range(4):
            busy = np.flatnonzero(ends[:, slot, unit] >= 0)
            finish = starts[busy] + ends[busy, slot, unit]
            gaps = starts[busy] - np.concatenate(([0], finish[:-1]))
            sync[slot, unit] = gaps[busy > 0].sum()
    count = np.bincount(which, minlength=len(blocks))
    last = np.zeros(len(blocks), dtype=np.int64)
    np.maximum.at(last, which, np.arange(epochs))
    distinct = [Occurrences(block, n, first, final) for block, n, first, final in zip(
        blocks, count.tolist(), starts[firsts].tolist(), starts[last].tolist())]
    dependency, dram = ((count[:, None, None] * column).sum(axis=0) for column in (  # (cores, units)
        stats.stall_dependency, stats.stall_dram))  # each distinct epoch's stalls, as often as it ran
    stalls = [{"dependency": dependency[slot].tolist(), "dram": dram[slot].tolist(), "sync": sync[slot].tolist()}
              for slot in range(len(cores))]
    timeline = [(start, distinct[i]) for start, i in zip(starts.tolist(), which.tolist())] if keep_timeline else []
    hosts = np.flatnonzero(host_cycles)
    host = [(tag, end - cycles, end) for tag, cycles, end in zip(
        barriers[hosts, 1].tolist(), host_cycles[hosts].tolist(), starts[hosts + 1].tolist())]
    return int(starts[-1]), distinct, stalls, timeline, host
