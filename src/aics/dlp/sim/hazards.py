"""Memory hazards between the units of one core, computed once before timing.

An instruction waits for the earlier instructions of its core that it conflicts with: it reads
what they write (RAW), or writes what they read (WAR) or write (WAW), by byte-range overlap in
the same space. Since each unit runs in program order and its instructions finish in order, it is
enough to know, for each *other* unit, the latest conflicting instruction; same-unit conflicts
are already ordered. A ``sync`` orders everything, so the bookkeeping restarts after each one.

Bookkeeping: for each (space, unit, read|write) an interval map from byte ranges to the position
of the last instruction of that unit that touched them ("painting"); a query is a max over the
overlapped intervals. Cost does not grow with the number of earlier instructions, only with
the number of distinct live intervals.

Loops are not analysed iteration by iteration: iterations 3..N see the same relative
dependencies as iteration 2 (every iteration paints the same ranges), except those reaching
before the loop, which are already implied because each instruction waits for its own previous
iteration on its unit. So two iterations are analysed and the rest copied.

Dependencies are returned per dynamic position as tuples of backward distances.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Sequence

from aics.dlp.isa import Range
from aics.dlp.sim.flow import Block, LoopBlock

Deps = tuple[int, ...]
_NO_DEPS: Deps = ()


class _PaintMap:
    """Disjoint segments ``[starts[i], starts[i+1])`` holding ``vals[i]`` (-1 = untouched);
    ``[lo, hi)`` bounds everything painted, so most queries of unrelated buffers stop there."""

    __slots__ = ("starts", "vals", "lo", "hi")

    def __init__(self) -> None:
        self.starts = [0]
        self.vals = [-1]
        self.lo, self.hi = 2**64, 0

    def paint(self, s: int, e: int, v: int) -> None:
        if s < self.lo:
            self.lo = s
        if e > self.hi:
            self.hi = e
        starts, vals = self.starts, self.vals
        i = bisect_right(starts, s) - 1
        j = bisect_right(starts, e) - 1
        new_starts, new_vals = [s, e], [v, vals[j]]
        if starts[i] < s:
            new_starts.insert(0, starts[i])
            new_vals.insert(0, vals[i])
        starts[i:j + 1] = new_starts
        vals[i:j + 1] = new_vals

    def shift(self, since: int, delta: int) -> None:
        self.vals = [v + delta if v >= since else v for v in self.vals]


class _Tracker:
    """The paint maps of one core since the last sync, indexed for the queries of ``step``."""

    def __init__(self) -> None:
        self.maps: dict[tuple[int, int, bool], _PaintMap] = {}  # (space, unit, is_write)
        self.writers: dict[int, list[tuple[int, _PaintMap]]] = {}  # space -> (unit, map)
        self.accessors: dict[int, list[tuple[int, _PaintMap]]] = {}  # readers and writers

    def reset(self) -> None:
        self.maps.clear()
        self.writers.clear()
        self.accessors.clear()

    def step(self, pos: int, unit: int, reads: Sequence[Range], writes: Sequence[Range]) -> Deps:
        latest = [-1, -1, -1, -1]
        for touched, index in ((reads, self.writers), (writes, self.accessors)):
            for space, s, e in touched:
                for u, pmap in index.get(space, ()):
                    if u != unit and s < pmap.hi and e > pmap.lo:
                        starts = pmap.starts
                        last = max(pmap.vals[bisect_right(starts, s) - 1:bisect_left(starts, e)])
                        if last > latest[u]:
                            latest[u] = last
        for space, s, e in reads:
            self._map(space, unit, False).paint(s, e, pos)
        for space, s, e in writes:
            self._map(space, unit, True).paint(s, e, pos)
        return tuple(pos - last for last in latest if last >= 0) or _NO_DEPS

    def shift(self, since: int, delta: int) -> None:
        for pmap in self.maps.values():
            pmap.shift(since, delta)

    def _map(self, space: int, unit: int, is_write: bool) -> _PaintMap:
        pmap = self.maps.get((space, unit, is_write))
        if pmap is None:
            pmap = self.maps[(space, unit, is_write)] = _PaintMap()
            self.accessors.setdefault(space, []).append((unit, pmap))
            if is_write:
                self.writers.setdefault(space, []).append((unit, pmap))
        return pmap


def dependencies(tree: Block, units: Sequence[int], reads: Sequence[tuple[Range, ...]],
                 writes: Sequence[tuple[Range, ...]], sync: Sequence[bool]) -> list[Deps]:
    """Backward distances to the instructions each dynamic instruction must wait for.

    ``tree`` is the core's block structure; ``units``, ``reads``, ``writes`` and ``sync`` are
    indexed by static instruction.
    """
    out: list[Deps] = []
    tracker = _Tracker()

    def walk(block: Block) -> None:
        for item in block:
            if isinstance(item, LoopBlock):
                loop(*item)
            elif sync[item]:
                tracker.reset()
                out.append(_NO_DEPS)
            elif reads[item] or writes[item]:
                out.append(tracker.step(len(out), units[item], reads[item], writes[item]))
            else:
                out.append(_NO_DEPS)

    def loop(n: int, body: Block) -> None:
        start = len(out)
        for _ in range(min(n, 2)):
            walk(body)
        if n <= 2:
            return
        second = (start + len(out)) // 2
        period = len(out) - second
        steady = [tuple(d for d in deps if pos - d >= start) or _NO_DEPS
                  for pos, deps in enumerate(out[second:], start=second)]
        out.extend(steady * (n - 2))
        tracker.shift(second, (n - 2) * period)

    walk(tree)
    return out
