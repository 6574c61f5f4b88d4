"""List scheduling: a program -> program reordering that lets later layers fill earlier ones' gaps.

Each unit of the DLP runs its instructions in program order, so the order the lowering emits
(layer after layer) is also the schedule: a unit idles whenever its next instruction waits,
even when a later instruction for it (the next layer's first tiles, say) could run. This pass
re-derives the order by list scheduling one core's code:

1. dependencies: every pair of instructions touching a common byte that one of them writes
   (read-after-write, write-after-read, write-after-write), found per elementary segment of each
   memory space (cut at every range endpoint), as the simulator's hazard analysis does;
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

    Per elementary segment, accesses in program order: an access depends on the segment's last
    earlier write (RAW, WAW), and a read is depended on by the segment's next write (WAR). On
    arrays: one row per (access, segment), sorted by segment then position."""
    rows = [(space, start, end, i, write) for i, instr in enumerate(code)
            for write, ranges in ((0, instr.reads()), (1, instr.writes())) for space, start, end in ranges]
    if not rows:
        return [[] for _ in code]
    space, start, end, pos, write = np.array(rows, dtype=np.int64).T
    key_s, key_e = (space << 56) | start, (space << 56) | end
    cuts = np.unique(np.concatenate([key_s, key_e]))
    first, stop = np.searchsorted(cuts, key_s), np.searchsorted(cuts, key_e)
    count = stop - first
    seg = np.repeat(first, count) + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    pos, write = np.repeat(pos, count), np.repeat(write, count).astype(bool)
    order = np.lexsort((write, pos, seg))  # reads before the same instruction's write
    seg, pos, write = seg[order], pos[order], write[order]
    n = len(seg)
    new_seg = np.r_[True, seg[1:] != seg[:-1]]
    # last write strictly before each entry in its segment (-1: none)
    wpos = np.where(write, np.arange(n), -1)
    seg_start = np.maximum.accumulate(np.where(new_seg, np.arange(n), 0))
    last = np.r_[-1, np.maximum.accumulate(wpos)[:-1]]
    last = np.where(last >= seg_start, last, -1)
    raw = np.stack([pos[last >= 0], pos[last[last >= 0]]])
    # next write strictly after each read in its segment
    seg_end = (np.r_[np.flatnonzero(new_seg)[1:], n] - 1)[np.cumsum(new_seg) - 1]
    nxt_w = np.where(write, np.arange(n), n)
    nxt = np.r_[np.minimum.accumulate(nxt_w[::-1])[::-1][1:], n]
    nxt = np.where(nxt <= seg_end, nxt, n)
    reads = ~write & (nxt < n)
    war = np.stack([pos[nxt[reads]], pos[reads]])
    pairs = np.concatenate([raw, war], axis=1)
    keys = np.unique(pairs[0] * len(code) + pairs[1])  # (dependent, dependency), sorted, once each
    deps: list[list[int]] = [[] for _ in code]
    for i, j in zip(*np.divmod(keys, len(code))):
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
    ready: list[list[int]] = [[] for _ in range(_UNITS)]  # heaps of program positions
    ready_at = [0] * len(code)  # when the last dependency ends
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
            while ready[u] and free[u] <= now and ready_at[ready[u][0]] <= now:
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
        candidates += [max(free[u], ready_at[ready[u][0]]) for u in range(_UNITS) if ready[u]]
        later = [t for t in candidates if t > now]
        now = min(later) if later else now
        while running and running[0][0] <= now:
            _, j = heapq.heappop(running)
            for k in users[j]:
                ready_at[k] = max(ready_at[k], now)
                waiting[k] -= 1
                if waiting[k] == 0:
                    heapq.heappush(ready[costs[k].unit], k)
    order.sort()
    return [code[i] for _, i in order]
