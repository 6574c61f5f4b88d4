"""The event-driven scheduler of one epoch: the code of every core between two syncs.

Rules. Per core, each unit runs its instructions in program order; an instruction starts once
its unit is free and the instructions it depends on (``hazards``) have ended. A transfer touching
DRAM first becomes *ready* (as above), then waits for the single DRAM channel, which serves
requests one at a time, first come first served in the order they became ready (ties: lower
core id, then program order). A sync ends an epoch: everything before it, on every core, ends
before anything after it starts, and then every unit and the channel are free. So each epoch is
scheduled on its own from time 0 (``timing`` adds the barrier times), and identical epochs (a loop
body) need scheduling once.

Algorithm. Each unit (a *lane*) keeps a cursor into its own queue. A lane's cursor moves as far
as dependencies allow; a lane that meets an instruction whose dependency has not ended yet is
*blocked* and watched by that dependency's lane, which wakes it once the dependency has ended (so
no lane is re-examined in vain). A transfer needing the channel is granted at once if no request
can come before it: it is ready earlier than every queued request and than the earliest any other
channel lane could ask (that lane's free time, or for a blocked lane the end its dependency can
have at the soonest: its lane's free time plus its cycles); else it goes on a heap keyed (ready,
core, position). Once no cursor can move, the heap's first request is safe to grant: any request
not yet known depends on an ungranted one, so it becomes ready strictly later. Both ways grant in
the same first-come-first-served order. Each instruction is touched a constant number of times;
nothing loops over cycles.

Speed (a million instructions per second is the goal): everything the inner loop touches is a
plain list indexed by position in the epoch (cycles, DRAM flags, end times, and each
instruction's up to three dependencies as absolute positions, latest first, -1 for none, which
reads a sentinel end of 0), lanes are flat lists indexed ``4 * core + unit``, and the loop is
one function with no per-instruction calls.

Stalls are charged to the unit that waits: ``dependency`` (for another unit's result) and
``dram`` (ready, waiting for the channel); ``timing`` adds ``sync`` (waiting at a barrier).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from functools import cached_property
from typing import Sequence

import numpy as np

_UNITS = 4  # LOAD, STORE, MATRIX, VECTOR
Targets = tuple[list[int], list[int], list[int]]


@dataclass(frozen=True)
class Facts:
    """Per static instruction of one core: unit, cycles, whether it holds the DRAM channel."""

    unit: list[int]
    cycles: list[int]
    dram: list[bool]

    @cached_property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (np.asarray(self.unit, dtype=np.int64), np.asarray(self.cycles, dtype=np.int64),
                np.asarray(self.dram, dtype=bool))


@dataclass
class Epoch:
    """One core's instructions in an epoch (static indices) and their dependencies, filled with
    the result: relative end cycles and the stalls of each unit.

    Dependencies come either as ``deps`` (per position, backward distances) or, cheaper to
    build for long epochs, as ``distances`` (an ``(n, 4)`` array, 0 = none)."""

    positions: Sequence[int]
    deps: Sequence[tuple[int, ...]] | None
    facts: Facts
    distances: np.ndarray | None = None
    end: list[int] = field(default_factory=list)
    last_end: list[int] = field(default_factory=lambda: [-1] * _UNITS)  # -1: the unit is idle
    stall_dependency: list[int] = field(default_factory=lambda: [0] * _UNITS)
    stall_dram: list[int] = field(default_factory=lambda: [0] * _UNITS)

    def targets(self) -> Targets:
        """Each position's dependencies as absolute positions, latest first, -1 for none."""
        n = len(self.positions)
        dist = self.distances
        if dist is None:
            dist = np.zeros((n, _UNITS), dtype=np.int64)
            for p, deps in enumerate(self.deps or ()):
                dist[p, :len(deps)] = deps
        target = np.where(dist > 0, np.arange(n)[:, None] - dist, -1)
        target = -np.sort(-target, axis=1)[:, :3] if target.size else np.full((n, 3), -1)
        return target[:, 0].tolist(), target[:, 1].tolist(), target[:, 2].tolist()


def schedule(cores: list[Epoch]) -> None:
    """Schedule one epoch of every core from cycle 0: fill ``end``, ``last_end`` and the stalls."""
    lanes = _UNITS * len(cores)
    queues: list[list[int]] = []
    ends, deps0, deps1, deps2, cycles, drams, units = [], [], [], [], [], [], []
    asks_channel: list[bool] = []  # per lane: has a transfer that holds the DRAM channel
    for core in cores:
        n = len(core.positions)
        unit, cyc, dram = core.facts.arrays
        pos = np.asarray(core.positions, dtype=np.int64)
        here = unit[pos]
        queues += [np.flatnonzero(here == u).tolist() for u in range(_UNITS)]
        units.append(here.tolist())
        ends.append([-1] * n + [0])  # the sentinel at index -1: "no dependency" has ended at 0
        for out, column in zip((deps0, deps1, deps2), core.targets()):
            out.append(column)
        cycles.append(cyc[pos].tolist())
        flags = dram[pos]
        drams.append(flags.tolist())
        asks_channel += [bool(flags[here == u].any()) for u in range(_UNITS)]
    heads, frees = [0] * lanes, [0] * lanes
    blocked_on = [-1] * lanes  # for a blocked lane, the position it waits for
    watchers: list[list[int]] = [[] for _ in range(lanes)]  # lanes blocked on an instruction of this lane
    stall_dep, stall_dram = [0] * lanes, [0] * lanes
    parked, granted = [False] * lanes, [False] * lanes
    views = [(c, queues[lane], ends[c], deps0[c], deps1[c], deps2[c], cycles[c], drams[c])
             for lane in range(lanes) for c in (lane >> 2,)]
    dram_lanes = [lane for lane, asks in enumerate(asks_channel) if asks]
    rivals = [[o for o in dram_lanes if o != lane] for lane in range(lanes)]  # other lanes that may ask
    heap: list[tuple[int, int, int, int]] = []
    pending = [lane for lane in range(lanes) if queues[lane]]
    channel_free = 0
    while True:
        while pending:
            lane = pending.pop()
            c, queue, end, d0, d1, d2, cyc, dram = views[lane]
            h = heads[lane]
            first = h - 1 if granted[lane] else h  # a grant moved the lane too: wake its watchers
            granted[lane] = False
            f, n, stall, q = frees[lane], len(queue), 0, -1
            while h < n:
                p = queue[h]
                ready = f
                q = d0[p]
                if q >= 0:
                    t0, t1, t2 = end[q], end[d1[p]], end[d2[p]]
                    if t0 < 0 or t1 < 0 or t2 < 0:  # blocked on the first that has not ended
                        q = q if t0 < 0 else d1[p] if t1 < 0 else d2[p]
                        break
                    q = -1
                    if t0 > ready:
                        ready = t0
                    if t1 > ready:
                        ready = t1
                    if t2 > ready:
                        ready = t2
                    stall += ready - f
                if dram[p]:  # the channel: granted now if no request can come before this one
                    wait = bool(heap) and ready >= heap[0][0]
                    for o in () if wait else rivals[lane]:  # the earliest another lane's next request
                        if parked[o] or heads[o] == len(queues[o]):
                            continue
                        bound, r = frees[o], blocked_on[o]
                        if r >= 0:  # blocked on r: after r's end (once known; else r's lane free + r's cycles)
                            co = o >> 2
                            t = ends[co][r]
                            if t < 0:
                                t = frees[(co << 2) + units[co][r]] + cycles[co][r]
                            if t > bound:
                                bound = t
                        if bound <= ready:
                            wait = True
                            break
                    if wait:
                        heapq.heappush(heap, (ready, c, p, lane))
                        parked[lane] = True
                        break
                    start = ready if ready > channel_free else channel_free
                    stall_dram[lane] += start - ready
                    f = channel_free = end[p] = start + cyc[p]
                    h += 1
                    continue
                f = end[p] = ready + cyc[p]
                h += 1
            if q >= 0:  # blocked on q: watch q's lane
                blocked_on[lane] = q
                watchers[(c << 2) + units[c][q]].append(lane)
            heads[lane], frees[lane] = h, f
            stall_dep[lane] += stall
            if h != first and watchers[lane]:  # the lanes blocked on what has now ended go on
                keep = []
                for w in watchers[lane]:
                    if end[blocked_on[w]] >= 0:
                        blocked_on[w] = -1
                        pending.append(w)
                    else:
                        keep.append(w)
                watchers[lane] = keep
        if not heap:
            break
        ready, c, p, lane = heapq.heappop(heap)
        start = ready if ready > channel_free else channel_free
        stall_dram[lane] += start - ready
        channel_free = ends[c][p] = frees[lane] = start + cycles[c][p]
        heads[lane] += 1
        parked[lane] = False
        granted[lane] = True
        pending.append(lane)
    for c, core in enumerate(cores):
        core.end = ends[c][:-1]
        core.last_end = [frees[c * _UNITS + u] if queues[c * _UNITS + u] else -1 for u in range(_UNITS)]
        core.stall_dependency = stall_dep[c * _UNITS:(c + 1) * _UNITS]
        core.stall_dram = stall_dram[c * _UNITS:(c + 1) * _UNITS]

