"""Memory hazards between the units of one core, computed once before timing.

An instruction waits for the earlier instructions of its core that it conflicts with: it reads
what they write (RAW), or writes what they read (WAR) or write (WAW), by byte-range overlap in
the same space. Since each unit runs in program order and its instructions finish in order, it is
enough to know, for each *other* unit, the latest conflicting instruction; same-unit conflicts
are already ordered. A ``sync`` orders everything, so the bookkeeping restarts after each one.

Method (a million straight-line instructions must not cost a million Python-level interval-map
updates). The endpoints of all ranges of a space cut it into elementary segments; two ranges
overlap exactly when they share one, so each range becomes the segments it covers (one, when
buffers are used whole, as they almost always are). A space crowded with ranges (NRAM, WRAM in
long programs) ranks their endpoints through a bitmap of its bytes; otherwise they are sorted.
One compiled sweep (``_sweep``) over the accesses in position order then keeps, per segment and
unit, the latest access and the latest write: a read depends on each other unit's latest write to
the segment, a write on its latest access; the bookkeeping of a segment is forgotten when a sync
has started a new epoch since it was last touched.

Loops are not analysed iteration by iteration: iterations 3..N see the same relative
dependencies as iteration 2 (every iteration touches the same ranges), except those reaching
before the loop, which are already implied because each instruction waits for its own previous
iteration on its unit. So the analysis runs on the code with every loop cut to two iterations,
and the dynamic stream's dependencies are then copied out of it (``_Expander``).

Dependencies are backward distances: ``distances`` gives an ``(n, 4)`` array per dynamic position
(column = the unit depended on, 0 = none).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from aics.compiled import compiled
from aics.dlp.isa import Range
from aics.dlp.sim.flow import Block, LoopBlock

_UNITS = 4


class Ranges:
    """Byte ranges as parallel arrays: ``owner`` (static instruction), ``space``, ``start``,
    ``end`` (half-open, non-empty) and ``write`` (else read), in owner order."""

    def __init__(self, owner: np.ndarray, space: np.ndarray, start: np.ndarray, end: np.ndarray,
                 write: np.ndarray) -> None:
        self.owner, self.space, self.start, self.end, self.write = owner, space, start, end, write

    @classmethod
    def of(cls, reads: Sequence[tuple[Range, ...]], writes: Sequence[tuple[Range, ...]]) -> Ranges:
        rows = [(i, space, s, e, w) for i, (rs, ws) in enumerate(zip(reads, writes))
                for w, touched in ((0, rs), (1, ws)) for space, s, e in touched]
        cols = np.array(rows, dtype=np.int64).reshape(-1, 5).T
        return cls(cols[0], cols[1], cols[2], cols[3], cols[4].astype(bool))


def _linear(tree: Block, out: list[int]) -> list[int]:
    """The static indices of ``tree`` with every loop cut to at most two iterations."""
    for item in tree:
        if isinstance(item, LoopBlock):
            for _ in range(min(item[0], 2)):
                _linear(item[1], out)
        elif isinstance(item, range):
            out.extend(item)
        else:
            out.append(item)
    return out


def _segments(ranges: Ranges) -> tuple[np.ndarray, np.ndarray, int]:
    """Per range, the first elementary segment it covers and how many (>= 1), segments numbered
    across all spaces, and their count. A space whose ranges are dense in it ranks their endpoints
    through a bitmap of its bytes (no sort); else (DRAM, or a few ranges) they are sorted."""
    lo = np.empty(len(ranges.owner), dtype=np.int64)
    cover = np.empty(len(ranges.owner), dtype=np.int64)
    count = 0
    for space in np.flatnonzero(np.bincount(ranges.space)).tolist():
        sel = np.flatnonzero(ranges.space == space)
        start, end = ranges.start[sel], ranges.end[sel]
        top = int(end.max())
        if top <= 8 * len(sel):  # dense: cheaper than sorting (sparse, it would cost more than the sort)
            mark = np.zeros(top + 1, dtype=np.bool_)
            mark[start] = True
            mark[end] = True
            rank = np.cumsum(mark, dtype=np.int64) - 1
            first, last, distinct = rank[start], rank[end], int(rank[-1]) + 1
        else:
            points = np.sort(np.concatenate((start, end)))
            points = points[np.concatenate(([True], points[1:] != points[:-1]))]
            first, last, distinct = np.searchsorted(points, start), np.searchsorted(points, end), len(points)
        lo[sel] = first + count
        cover[sel] = last - first
        count += distinct
    return lo, cover, count


def accesses(seq: np.ndarray, ranges: Ranges) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """One entry per (position of ``seq`` (static indices), elementary segment one of its ranges
    covers), in position order (a position's reads before its writes): the position, whether it
    writes, the segment; and the number of segments (shared: the compiler's list scheduler uses it)."""
    counts = np.bincount(ranges.owner, minlength=int(seq.max(initial=-1)) + 1)
    per = counts[seq]
    total = int(per.sum())
    pos = np.repeat(np.arange(len(seq), dtype=np.int64), per)  # one entry per range of each position
    first = np.cumsum(counts) - counts
    index = np.repeat(first[seq] - np.cumsum(per) + per, per) + np.arange(total, dtype=np.int64)
    lo, cover, count = _segments(ranges)
    seg, cover, write = lo[index], cover[index], ranges.write[index]
    if total and int(cover.max()) > 1:  # partial overlaps: one entry per covered segment
        entry = np.repeat(np.arange(total, dtype=np.int64), cover)
        seg = seg[entry] + np.arange(len(entry), dtype=np.int64) - np.repeat(np.cumsum(cover) - cover, cover)
        pos, write = pos[entry], write[entry]
    return pos, write, seg, count


def _latest(seq: np.ndarray, units: np.ndarray, ranges: Ranges, sync: np.ndarray) -> np.ndarray:
    """For each position of the analysed sequence ``seq`` (static indices) and each unit, the
    latest earlier position it conflicts with (-1: none); own-unit columns are -1."""
    pos, write, seg, count = accesses(seq, ranges)
    return _sweep(pos, write, seg, units[seq], np.cumsum(sync[seq]), count)


@compiled
def _sweep(pos: np.ndarray, write: np.ndarray, seg: np.ndarray, unit: np.ndarray, epoch: np.ndarray,
           segments: int) -> np.ndarray:
    """The accesses in position order, remembering per segment and unit the latest access and the
    latest write (forgotten when a sync starts a new epoch)."""
    latest = np.full((len(unit), _UNITS), -1, dtype=np.int64)
    last_access = np.full((segments, _UNITS), -1, dtype=np.int64)
    last_write = np.full((segments, _UNITS), -1, dtype=np.int64)
    seen_in = np.full(segments, -1, dtype=np.int64)  # the epoch of the segment's bookkeeping
    for i in range(len(pos)):
        p, s = pos[i], seg[i]
        u, writes = unit[p], write[i]
        if seen_in[s] != epoch[p]:
            seen_in[s] = epoch[p]
            last_access[s, :] = -1
            last_write[s, :] = -1
        for v in range(_UNITS):  # a read waits for writes, a write for any access
            if v != u:
                q = last_access[s, v] if writes else last_write[s, v]
                if q > latest[p, v]:
                    latest[p, v] = q
        last_access[s, u] = p
        if writes:
            last_write[s, u] = p
    return latest


class _Expander:
    """Replays the tree to turn the analysed sequence's latest positions into the dynamic
    stream's backward distances, as the old walk did: ``cur`` maps each analysed position to
    the dynamic position it stands for now (after a loop, its second iteration stands for the
    last one)."""

    def __init__(self, latest: np.ndarray) -> None:
        self.latest = latest
        self.cur = np.zeros(len(latest), dtype=np.int64)
        self.pieces: list[np.ndarray] = []
        self.a = 0  # next analysed position
        self.d = 0  # next dynamic position

    def walk(self, block: Block) -> None:
        run = 0
        for item in block:
            if isinstance(item, LoopBlock):
                self._run(run)
                run = 0
                self._loop(*item)
            else:
                run += len(item) if isinstance(item, range) else 1
        self._run(run)

    def _run(self, k: int) -> None:
        if not k:
            return
        a, d = self.a, self.d
        here = np.arange(d, d + k, dtype=np.int64)
        self.cur[a:a + k] = here
        target = self.latest[a:a + k]
        dist = np.where(target >= 0, here[:, None] - self.cur[target], 0)
        self.pieces.append(dist.astype(np.int32))
        self.a, self.d = a + k, d + k

    def _loop(self, n: int, body: Block) -> None:
        start = self.d
        for iteration in range(min(n, 2)):
            mark, a_mark = len(self.pieces), self.a
            self.walk(body)
        if n <= 2:
            return
        second = (start + self.d) // 2
        period = self.d - second
        steady = np.concatenate(self.pieces[mark:]) if period else np.zeros((0, _UNITS), dtype=np.int32)
        here = np.arange(second, self.d, dtype=np.int64)[:, None]
        steady = np.where(here - steady >= start, steady, 0).astype(np.int32)
        self.pieces.append(np.tile(steady, (n - 2, 1)))
        self.d += (n - 2) * period
        self.cur[a_mark:self.a] += (n - 2) * period


def distances(tree: Block, units: np.ndarray, ranges: Ranges, sync: np.ndarray) -> np.ndarray:
    """Backward distances to the instructions each dynamic instruction must wait for, one column
    per unit (0: none). ``units`` and ``sync`` are indexed by static instruction."""
    seq = np.asarray(_linear(tree, []), dtype=np.int64)
    expander = _Expander(_latest(seq, np.asarray(units, dtype=np.int64), ranges, np.asarray(sync, dtype=bool)))
    expander.walk(tree)
    if not expander.pieces:
        return np.zeros((0, _UNITS), dtype=np.int32)
    return np.concatenate(expander.pieces)
