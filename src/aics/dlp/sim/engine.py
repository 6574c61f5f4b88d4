"""The event-driven scheduler of epochs: an epoch is the code of every core between two syncs.

Rules. Per core, each unit runs its instructions in program order; an instruction starts once
its unit is free and the instructions it depends on (``hazards``) have ended. A transfer touching
DRAM first becomes *ready* (as above), then waits for the single DRAM channel, which serves
requests one at a time, first come first served in the order they became ready (ties: lower
core id, then program order). A sync ends an epoch: everything before it, on every core, ends
before anything after it starts, and then every unit and the channel are free. So each epoch is
scheduled on its own from time 0 (``timing`` adds the barrier times), identical epochs (a loop
body) need scheduling once, and all distinct epochs of a program are scheduled in one call.

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

Speed (a million instructions per second is the goal): the loop (``_run``) is compiled
(``compiled``) and touches flat arrays only: all cores' instructions in one index space (cycles,
DRAM flags, end times, dependencies as backward distances per unit), each lane's queue a slice
of one array, lanes numbered ``4 * core + unit``.

Stalls are charged to the unit that waits: ``dependency`` (for another unit's result) and
``dram`` (ready, waiting for the channel); ``timing`` adds ``sync`` (waiting at a barrier).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

from aics.compiled import compiled

_UNITS = 4  # LOAD, STORE, MATRIX, VECTOR


@dataclass(frozen=True)
class Facts:
    """Per static instruction of one core: unit, cycles, whether it holds the DRAM channel (arrays;
    sequences given are converted)."""

    unit: np.ndarray
    cycles: np.ndarray
    dram: np.ndarray

    def __post_init__(self) -> None:
        for name, dtype in (("unit", np.int64), ("cycles", np.int64), ("dram", np.bool_)):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=dtype))


class BlockStats(NamedTuple):
    """Per block, core and unit (arrays ``(blocks, cores, 4)``): relative end of the unit's last
    instruction (-1: idle) and its stall cycles."""

    last_end: np.ndarray
    stall_dependency: np.ndarray
    stall_dram: np.ndarray


@dataclass(frozen=True)
class Scheduled:
    """Blocks (one epoch of every core each) scheduled from cycle 0 each. Slot ``s = b * cores + c``
    (block ``b``, core ``c``) holds the instructions ``positions[offsets[s]:offsets[s + 1]]`` (static
    indices, in program order) with their relative ``end`` cycles."""

    positions: np.ndarray
    end: np.ndarray
    offsets: np.ndarray
    stats: BlockStats

    @property
    def cores(self) -> int:
        return self.stats.last_end.shape[1]

    def slot(self, block: int, core: int) -> slice:
        s = block * self.cores + core
        return slice(int(self.offsets[s]), int(self.offsets[s + 1]))


def schedule_streams(facts: Sequence[Facts], streams: Sequence[np.ndarray], distances: Sequence[np.ndarray | None],
                     lo: np.ndarray, hi: np.ndarray) -> Scheduled:
    """Schedule blocks given as slices of each core's stream: block ``b`` on core ``c`` is
    ``streams[c][lo[b, c]:hi[b, c]]``, its dependencies the same rows of ``distances[c]`` (``(n, 4)``
    backward distances; None: none at all), all in one compiled call.

    All instructions share one index space, slot by slot, so that within a block the index orders
    them by core, then position: the channel's tie-break."""
    blocks, cores = lo.shape
    if not blocks * cores:
        empty = np.zeros((blocks, cores, _UNITS), dtype=np.int64)
        return Scheduled(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64),
                         BlockStats(empty, empty, empty))
    sizes = (hi - lo).ravel()  # per slot
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    total = int(offsets[-1])
    positions, dist = np.empty(total, dtype=np.int64), np.zeros((total, _UNITS), dtype=np.int64)
    unit, cycles, dram = np.empty(total, dtype=np.int64), np.empty(total, dtype=np.int64), np.empty(total, np.bool_)
    for c in range(cores):  # gather each core's slices into their slots
        size = hi[:, c] - lo[:, c]
        within = np.arange(int(size.sum()), dtype=np.int64) - np.repeat(np.cumsum(size) - size, size)
        src = np.repeat(lo[:, c], size) + within
        dst = np.repeat(offsets[np.arange(blocks) * cores + c], size) + within
        positions[dst] = pos = streams[c][src]
        unit[dst], cycles[dst], dram[dst] = facts[c].unit[pos], facts[c].cycles[pos], facts[c].dram[pos]
        if distances[c] is not None:
            dist[dst] = distances[c][src]
    lane = np.repeat(np.arange(blocks * cores, dtype=np.int64) * _UNITS, sizes) + unit
    order = np.argsort(lane, kind="stable")  # each lane's queue, in program order
    first = np.searchsorted(lane[order], np.arange(_UNITS * blocks * cores + 1))
    end, frees, stall_dep, stall_dram = _run(order, first, lane, dist, cycles, dram, _UNITS * cores)
    shape = (blocks, cores, _UNITS)
    stats = BlockStats(np.where(first[1:] > first[:-1], frees, -1).reshape(shape), stall_dep.reshape(shape),
                       stall_dram.reshape(shape))
    return Scheduled(positions, end, offsets, stats)


@compiled
def _run(order: np.ndarray, first: np.ndarray, lane_of: np.ndarray, dist: np.ndarray, cycles: np.ndarray,
         dram: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The scheduler over flat arrays of all blocks' instructions: lane ``l``'s queue is
    ``order[first[l]:first[l + 1]]``, block ``b`` owns lanes ``[b * width, (b + 1) * width)``;
    ``dist`` the dependencies as backward distances (0: none). Returns ends, and per lane its
    free time and stalls."""
    n, lanes = len(cycles), len(first) - 1
    end = np.full(n, -1, dtype=np.int64)
    heads = first[:-1].copy()
    frees = np.zeros(lanes, dtype=np.int64)
    stall_dep = np.zeros(lanes, dtype=np.int64)
    stall_dram = np.zeros(lanes, dtype=np.int64)
    blocked_on = np.full(lanes, -1, dtype=np.int64)  # for a blocked lane, the instruction it waits for
    watchers = np.zeros((lanes, width), dtype=np.int64)  # lanes blocked on an instruction of this lane
    watching = np.zeros(lanes, dtype=np.int64)
    parked = np.zeros(lanes, dtype=np.bool_)
    granted = np.zeros(lanes, dtype=np.bool_)
    pending = np.zeros(width, dtype=np.int64)  # a stack; a lane is in it at most once
    dram_lanes = np.zeros(width, dtype=np.int64)  # lanes with a transfer that holds the channel
    heap = [(np.int64(0), np.int64(0))]  # (ready, instruction): first come first served, ties by core then position
    heap.pop()
    for block in range(lanes // width):  # blocks are independent: each starts at cycle 0, channel free
        lo, hi = block * width, (block + 1) * width
        npending = ndram = channel_free = 0
        for lane in range(lo, hi):  # popped from the stack: the last lane first
            if first[lane + 1] > first[lane]:
                pending[npending] = lane
                npending += 1
        for lane in range(lo, hi):
            for h in range(first[lane], first[lane + 1]):
                if dram[order[h]]:
                    dram_lanes[ndram] = lane
                    ndram += 1
                    break
        while True:
            while npending:
                npending -= 1
                lane = pending[npending]
                h, stop = heads[lane], first[lane + 1]
                moved_from = h - 1 if granted[lane] else h  # a grant moved the lane too: wake its watchers
                granted[lane] = False
                f, stall, q = frees[lane], 0, -1
                while h < stop:
                    p = order[h]
                    ready = f
                    for u in range(_UNITS):
                        if dist[p, u]:
                            t = end[p - dist[p, u]]
                            if t < 0:  # not ended: blocked on the latest such
                                q = max(q, p - dist[p, u])
                            elif t > ready:
                                ready = t
                    if q >= 0:
                        break
                    stall += ready - f
                    if dram[p]:  # the channel: granted now if no request can come before this one
                        wait = len(heap) > 0 and ready >= heap[0][0]
                        k = 0
                        while not wait and k < ndram:  # the earliest another lane's next request
                            o = dram_lanes[k]
                            k += 1
                            if o == lane or parked[o] or heads[o] == first[o + 1]:
                                continue
                            bound, r = frees[o], blocked_on[o]
                            if r >= 0:  # blocked on r: after r's end (once known; else r's lane free + r's cycles)
                                t = end[r]
                                if t < 0:
                                    t = frees[lane_of[r]] + cycles[r]
                                bound = max(bound, t)
                            wait = bound <= ready
                        if wait:
                            heapq.heappush(heap, (ready, p))
                            parked[lane] = True
                            break
                        start = max(ready, channel_free)
                        stall_dram[lane] += start - ready
                        f = channel_free = end[p] = start + cycles[p]
                        h += 1
                        continue
                    f = end[p] = ready + cycles[p]
                    h += 1
                if q >= 0:  # blocked on q: watch q's lane
                    blocked_on[lane] = q
                    owner = lane_of[q]
                    watchers[owner, watching[owner]] = lane
                    watching[owner] += 1
                heads[lane], frees[lane] = h, f
                stall_dep[lane] += stall
                if h != moved_from and watching[lane]:  # the lanes blocked on what has now ended go on
                    kept = 0
                    for k in range(watching[lane]):
                        w = watchers[lane, k]
                        if end[blocked_on[w]] >= 0:
                            blocked_on[w] = -1
                            pending[npending] = w
                            npending += 1
                        else:
                            watchers[lane, kept] = w
                            kept += 1
                    watching[lane] = kept
            if not heap:
                break
            ready, p = heapq.heappop(heap)
            lane = lane_of[p]
            start = max(ready, channel_free)
            stall_dram[lane] += start - ready
            channel_free = end[p] = frees[lane] = start + cycles[p]
            heads[lane] += 1
            parked[lane] = False
            granted[lane] = True
            pending[npending] = lane
            npending += 1
    return end, frees, stall_dep, stall_dram
