"""List scheduling: a program -> program reordering that lets later layers fill earlier ones' gaps.

Each unit of the DLP runs its instructions in program order, so the order the lowering emits
(layer after layer) is also the schedule: a unit idles whenever its next instruction waits,
even when a later instruction for it (the next layer's first tiles, say) could run. This pass
re-derives the order by list scheduling one core's code:

1. dependencies: every pair of instructions touching a common byte that one of them writes
   (read-after-write, write-after-read, write-after-write), found per elementary segment of each
   memory space (cut at every range endpoint) with the simulator's own hazard bookkeeping;
2. costs: the simulator's own cost model (cycles, whether the DRAM channel is held);
3. a greedy simulation with one instruction at a time per unit and one DRAM transfer at a time:
   whenever a unit is free it starts, among its ready instructions (every dependency ended), the
   one earliest in the original program;
4. the new program order is the start order of that simulation.

Every dependent pair keeps its order (an instruction starts only after its dependencies end, ties
go to program order), so the program computes exactly what it computed before; only the timing
changes. Barriers (``sync``, ``host``) are not crossed: the code is scheduled between them. The
greedy simulation is a heuristic, so ``compile`` keeps the reordered program only when the timing
simulator finds it faster.
"""

from __future__ import annotations

import heapq

import numpy as np

from aics.dlp.arch import Arch
from aics.dlp.isa import Instr, Sync, Unit
from aics.dlp.sim.costs import CostModel
from aics.dlp.sim.hazards import Ranges, accesses

_UNITS = 4


def list_schedule(code: list[Instr], arch: Arch, dram_size: int) -> list[Instr]:
    """``code`` (one core's) in list-scheduled order, barrier to barrier."""
    model = CostModel(arch, dram_size)
    out: list[Instr] = []
    segment: list[Instr] = []
    for instr in code:
        if isinstance(instr, Sync) or instr.unit == Unit.CONTROL:
            out += _schedule(segment, model)
            out.append(instr)
            segment = []
        else:
            segment.append(instr)
    return out + _schedule(segment, model)


def dependencies(code: list[Instr]) -> list[list[int]]:
    """For each instruction, the earlier ones it conflicts with (RAW, WAR, WAW).

    Per elementary segment (the simulator's ``hazards.accesses``), accesses in program order: an
    access depends on the segment's last earlier write (RAW, WAW), and a read is depended on by
    the segment's next write (WAR)."""
    n = len(code)
    ranges = Ranges.of([i.reads() for i in code], [i.writes() for i in code])
    if len(ranges.owner) == 0:
        return [[] for _ in code]
    pos, write, seg, _ = accesses(np.arange(n), ranges)
    order = np.argsort(seg, kind="stable")  # (segment, position), reads before writes
    seg, pos, write = seg[order], pos[order], write[order]
    m = len(seg)
    new_seg = np.r_[True, seg[1:] != seg[:-1]]
    # last write strictly before each entry in its segment (-1: none)
    seg_start = np.maximum.accumulate(np.where(new_seg, np.arange(m), 0))
    last = np.r_[-1, np.maximum.accumulate(np.where(write, np.arange(m), -1))[:-1]]
    last = np.where(last >= seg_start, last, -1)
    raw = np.stack([pos[last >= 0], pos[last[last >= 0]]])
    # next write strictly after each read in its segment
    seg_end = (np.r_[np.flatnonzero(new_seg)[1:], m] - 1)[np.cumsum(new_seg) - 1]
    nxt = np.r_[np.minimum.accumulate(np.where(write, np.arange(m), m)[::-1])[::-1][1:], m]
    reads = ~write & (nxt <= seg_end)
    war = np.stack([pos[nxt[reads]], pos[reads]])
    pairs = np.concatenate([raw, war], axis=1)
    keys = np.unique(pairs[0] * n + pairs[1])  # (dependent, dependency), sorted, once each
    deps: list[list[int]] = [[] for _ in code]
    for i, j in zip(*np.divmod(keys, n)):
        if i != j:
            deps[i].append(int(j))
    return deps


def _schedule(code: list[Instr], model: CostModel) -> list[Instr]:
    if len(code) < 2:
        return code
    costs = [model.cost(i, i.reads(), i.writes()) for i in code]
    deps = dependencies(code)
    users: list[list[int]] = [[] for _ in code]
    waiting = [len(d) for d in deps]
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)
    ready: list[list[int]] = [[] for _ in range(_UNITS)]  # heaps of program positions, ready now
    for i, n in enumerate(waiting):
        if n == 0:
            heapq.heappush(ready[costs[i].unit], i)
    free = [0] * _UNITS
    channel = 0  # the DRAM channel is free from this cycle
    running: list[tuple[int, int]] = []  # (end, position) heap
    order: list[tuple[int, int]] = []  # (start, position)
    now = 0
    while len(order) < len(code):
        for u in range(_UNITS):
            while ready[u] and free[u] <= now:
                i = heapq.heappop(ready[u])
                cost = costs[i]
                start = max(now, channel) if cost.dram else now
                end = start + cost.cycles
                if cost.dram:
                    channel = end
                free[u] = end
                order.append((start, i))
                heapq.heappush(running, (end, i))
        # advance to the next event: an end, or a unit becoming free with work ready
        candidates = [running[0][0]] if running else []
        candidates += [free[u] for u in range(_UNITS) if ready[u]]
        later = [t for t in candidates if t > now]
        now = min(later) if later else now
        while running and running[0][0] <= now:
            _, j = heapq.heappop(running)
            for k in users[j]:
                waiting[k] -= 1
                if waiting[k] == 0:
                    heapq.heappush(ready[costs[k].unit], k)
    order.sort()
    return [code[i] for _, i in order]
