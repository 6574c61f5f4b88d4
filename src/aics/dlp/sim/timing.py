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
from aics.dlp.sim.engine import Facts, Scheduled, schedule_streams
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


def _simulate(program: Program, arch: Arch, trace: str | os.PathLike[str] | None) -> TimingReport:
    check_program(program, arch)
    trees = [flow.blocks(code) for code in program.code]
    dynamic = flow.streams(program, trees)
    model = CostModel(arch, program.dram_size)
    active = [c for c, stream in enumerate(dynamic) if len(stream)]
    cores = [_prepare(program, c, trees[c], dynamic[c], model) for c in active]
    placed = _run_epochs(cores)
    report = build_report(program, arch, placed.cycles, dynamic, {c: core.decoded for c, core in zip(active, cores)},
                          active, placed.scheduled, placed.first, placed.last, dict(zip(active, placed.stalls)),
                          placed.host)
    if trace is not None:
        write_trace(trace, program, arch, active, [core.facts for core in cores], placed.scheduled,
                    zip(placed.starts.tolist(), placed.which.tolist()), placed.host)
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


@dataclass
class _Placed:
    """The epochs placed in time: per epoch its distinct epoch (``which``) and start (``starts``,
    one more: the end of the run); per distinct epoch its schedule, first and last start; stall
    cycles per core by reason and unit; the host ops' (tag, start, end)."""

    which: np.ndarray
    starts: np.ndarray
    scheduled: Scheduled
    first: np.ndarray
    last: np.ndarray
    stalls: list[dict[str, list[int]]]
    host: list[tuple[int, int, int]]

    @property
    def cycles(self) -> int:
        return int(self.starts[-1])


def _run_epochs(cores: list[_Core]) -> _Placed:
    """Schedule the distinct epochs (one call) and place every epoch in time: epoch k starts at
    ``sum(span + host cycles)`` of the epochs before it; a unit's sync stall is the gap between its
    last end in an epoch and the start of the next epoch where it is busy."""
    bounds = (np.array([core.bounds for core in cores], dtype=np.int64) if cores else
              np.zeros((0, 1), dtype=np.int64))  # (cores, epochs + 1): every core has as many syncs
    lo, hi = (bounds[:, :-1] + 1).T, bounds[:, 1:].T  # (epochs, cores): epoch k is positions[lo:hi] per core
    epochs = len(lo)
    which, firsts = _distinct(cores, lo, hi)
    scheduled = schedule_streams([core.facts for core in cores], [core.positions for core in cores],
                                 [core.distances for core in cores], lo[firsts], hi[firsts])
    stats = scheduled.stats
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
    count = np.bincount(which, minlength=len(firsts))
    last = np.zeros(len(firsts), dtype=np.int64)
    np.maximum.at(last, which, np.arange(epochs))
    dependency, dram = ((count[:, None, None] * column).sum(axis=0) for column in (  # (cores, units)
        stats.stall_dependency, stats.stall_dram))  # each distinct epoch's stalls, as often as it ran
    stalls = [{"dependency": dependency[slot].tolist(), "dram": dram[slot].tolist(), "sync": sync[slot].tolist()}
              for slot in range(len(cores))]
    hosts = np.flatnonzero(host_cycles)
    host = [(tag, end - cycles, end) for tag, cycles, end in zip(
        barriers[hosts, 1].tolist(), host_cycles[hosts].tolist(), starts[hosts + 1].tolist())]
    return _Placed(which, starts, scheduled, starts[firsts], starts[last], stalls, host)


def _hash_weights(n: int) -> np.ndarray:
    """``n`` fixed odd 64-bit multipliers: the i-th instruction of an epoch is hashed with the i-th."""
    return np.random.default_rng(0x45504F43).integers(1, 2**63, size=n, dtype=np.uint64) | np.uint64(1)


def _distinct(cores: list[_Core], lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per epoch the id of the distinct epoch it repeats (equal instructions on every core; ids in
    order of first use), and each id's first epoch. Epochs are grouped by their sizes and a hash of
    each core's slice, and every group member is then compared with the group's first; a hash
    collision falls back to comparing the slices' bytes."""
    epochs = len(lo)
    if epochs < 2:
        return np.zeros(epochs, dtype=np.int64), np.zeros(min(epochs, 1), dtype=np.int64)
    signature = np.empty((epochs, 2 * len(cores)), dtype=np.uint64)
    slices = []
    for c, core in enumerate(cores):
        size = hi[:, c] - lo[:, c]
        within = np.arange(int(size.sum()), dtype=np.int64) - np.repeat(np.cumsum(size) - size, size)
        items = core.positions[np.repeat(lo[:, c], size) + within]
        hashed = items.astype(np.uint64) * _hash_weights(int(size.max()))[within]  # wrapping arithmetic
        sums = np.concatenate((np.zeros(1, dtype=np.uint64), np.cumsum(hashed, dtype=np.uint64)))
        signature[:, 2 * c], signature[:, 2 * c + 1] = size, sums[np.cumsum(size)] - sums[np.cumsum(size) - size]
        slices.append((items, within, np.cumsum(size) - size, size))
    _, firsts, inverse = np.unique(signature, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(firsts)
    dense = np.empty(len(firsts), dtype=np.int64)
    dense[order] = np.arange(len(firsts))
    which, firsts = dense[inverse.ravel()], firsts[order]
    for items, within, offset, size in slices:  # each epoch's items equal its group's first's
        model = np.repeat(offset[firsts[which]], size) + within
        if not (items == items[model]).all():
            return _distinct_by_bytes(cores, lo, hi)
    return which, firsts


def _distinct_by_bytes(cores: list[_Core], lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    raw = [core.positions.tobytes() for core in cores]
    ids: dict[tuple[bytes, ...], int] = {}
    which = np.array([ids.setdefault(tuple(r[8 * a:8 * b] for r, a, b in zip(raw, los, his)), len(ids))
                      for los, his in zip(lo.tolist(), hi.tolist())], dtype=np.int64)
    return which, np.unique(which, return_index=True)[1]
