"""The event-driven scheduler of one epoch: the code of every core between two syncs.

Rules. Per core, each unit runs its instructions in program order; an instruction starts once
its unit is free and the instructions it depends on (``hazards``) have ended. A transfer touching
DRAM first becomes *ready* (as above), then waits for the single DRAM channel, which serves
requests one at a time, first come first served in the order they became ready (ties: lower
core id, then program order). A sync ends an epoch: everything before it, on every core, ends
before anything after it starts, and then every unit and the channel are free. So each epoch is
scheduled on its own from time 0 (``timing`` adds the barrier times), and identical epochs (a loop
body) need scheduling once.

Algorithm. Each unit keeps a cursor into its own queue. ``_advance`` moves one cursor as far as
dependencies allow; a transfer needing the channel goes on a heap keyed (ready, core, position).
Once no cursor can move, the heap's first request is safe to grant: any request not yet known
depends on an ungranted one, so it becomes ready strictly later. Granting wakes its unit and the
units blocked on it, and so on. Each instruction is touched a constant number of times; nothing
loops over cycles.

Stalls are charged to the unit that waits: ``dependency`` (for another unit's result) and
``dram`` (ready, waiting for the channel); ``timing`` adds ``sync`` (waiting at a barrier).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Sequence

_UNITS = 4  # LOAD, STORE, MATRIX, VECTOR


@dataclass(frozen=True)
class Facts:
    """Per static instruction of one core: unit, cycles, whether it holds the DRAM channel."""

    unit: list[int]
    cycles: list[int]
    dram: list[bool]


@dataclass
class Epoch:
    """One core's instructions in an epoch (static indices) and their dependencies, filled with
    the result: relative end cycles and the stalls of each unit."""

    positions: Sequence[int]
    deps: Sequence[tuple[int, ...]]  # backward distances, within the epoch
    facts: Facts
    end: list[int] = field(default_factory=list)
    last_end: list[int] = field(default_factory=lambda: [-1] * _UNITS)  # -1: the unit is idle
    stall_dependency: list[int] = field(default_factory=lambda: [0] * _UNITS)
    stall_dram: list[int] = field(default_factory=lambda: [0] * _UNITS)


@dataclass(slots=True)
class _Lane:
    queue: list[int]
    head: int = 0
    free: int = 0
    parked: bool = False  # has a request on the channel heap
    blocked: bool = False  # waits for another unit's instruction


class _Scheduler:
    def __init__(self, cores: list[Epoch]) -> None:
        self.cores = cores
        self.lanes: list[list[_Lane]] = []
        for core in cores:
            core.end = [-1] * len(core.positions)
            units = core.facts.unit
            queues: list[list[int]] = [[] for _ in range(_UNITS)]
            for p, s in enumerate(core.positions):
                queues[units[s]].append(p)
            self.lanes.append([_Lane(q) for q in queues])
        self.heap: list[tuple[int, int, int, int]] = []
        self.pending = [(c, u) for c in range(len(cores)) for u in range(_UNITS) if self.lanes[c][u].queue]

    def run(self) -> None:
        channel_free = 0
        heap, pending = self.heap, self.pending
        while True:
            while pending:
                self._advance(*pending.pop())
            if not heap:
                break
            ready, c, pos, u = heapq.heappop(heap)
            core, lane = self.cores[c], self.lanes[c][u]
            start = ready if ready > channel_free else channel_free
            core.stall_dram[u] += start - ready
            channel_free = core.end[pos] = lane.free = start + core.facts.cycles[core.positions[pos]]
            lane.head += 1
            lane.parked = False
            pending.append((c, u))
            self._wake_blocked(c)
        for core, lanes in zip(self.cores, self.lanes):
            core.last_end = [lane.free if lane.queue else -1 for lane in lanes]

    def _advance(self, c: int, u: int) -> None:
        lane = self.lanes[c][u]
        if lane.parked or lane.blocked:
            return
        core = self.cores[c]
        queue, end, deps, positions = lane.queue, core.end, core.deps, core.positions
        cycles, dram = core.facts.cycles, core.facts.dram
        h, f, n = lane.head, lane.free, len(queue)
        first = h
        while h < n:
            p = queue[h]
            ready = f
            for d in deps[p]:
                t = end[p - d]
                if t < 0:
                    lane.blocked = True
                    break
                if t > ready:
                    ready = t
            if lane.blocked:
                break
            if ready > f:
                core.stall_dependency[u] += ready - f
            s = positions[p]
            if dram[s]:
                heapq.heappush(self.heap, (ready, c, p, u))
                lane.parked = True
                break
            f = end[p] = ready + cycles[s]
            h += 1
        lane.head, lane.free = h, f
        if h != first:
            self._wake_blocked(c)

    def _wake_blocked(self, c: int) -> None:
        for v, lane in enumerate(self.lanes[c]):
            if lane.blocked:
                lane.blocked = False
                self.pending.append((c, v))


def schedule(cores: list[Epoch]) -> None:
    """Schedule one epoch of every core from cycle 0: fill ``end``, ``last_end`` and the stalls."""
    _Scheduler(cores).run()
