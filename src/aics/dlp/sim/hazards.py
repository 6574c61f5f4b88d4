"""Memory hazards between the units of one core, computed once before timing, on arrays.

An instruction waits for the earlier instructions of its core that it conflicts with: it reads
what they write (RAW), or writes what they read (WAR) or write (WAW), by byte-range overlap in
the same space. Since each unit runs in program order and its instructions finish in order, it is
enough to know, for each *other* unit, the latest conflicting instruction; same-unit conflicts
are already ordered. A ``sync`` orders everything, so the bookkeeping restarts after each one.

Method (why it is vectorised: a million straight-line instructions must not cost a million
Python-level interval-map updates). The endpoints of all ranges of a space cut it into
elementary segments; two ranges overlap exactly when they share one, so each range becomes the
list of segments it covers (one, when buffers are used whole, as they almost always are).
Sorting those (segment, position) entries groups the accesses of each segment (within one
epoch between syncs) in program order, and a running maximum per unit then gives, for every
access, the latest earlier write (for reads) or access (for writes) of that unit to the same
bytes. A maximum per instruction over its accesses gives its dependency on each unit.

Loops are not analysed iteration by iteration: iterations 3..N see the same relative
dependencies as iteration 2 (every iteration touches the same ranges), except those reaching
before the loop, which are already implied because each instruction waits for its own previous
iteration on its unit. So the analysis runs on the code with every loop cut to two iterations,
and the dynamic stream's dependencies are then copied out of it (``_Expander``).

Dependencies are backward distances: ``distances`` gives an ``(n, 4)`` array per dynamic position
(column = the unit depended on, 0 = none); ``dependencies`` the same as tuples.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from aics.dlp.isa import Range
from aics.dlp.sim.flow import Block, LoopBlock

Deps = tuple[int, ...]
_UNITS = 4
_SPACE_SHIFT = 56  # (space << 56) | address: one sortable key for every range endpoint


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


def accesses(seq: np.ndarray, ranges: Ranges,
              sync: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """One entry per (position of ``seq``, elementary segment one of its ranges covers), in
    position order: the position, whether it writes, the segment (numbered apart per epoch) and,
    when every range is one segment, the entries' order by (segment, position) (else None). A
    position's reads come before its writes. Its own function so that its large temporaries are
    freed before the next step (and shared: the compiler's list scheduler uses it too)."""
    counts = np.bincount(ranges.owner, minlength=len(sync))
    per = counts[seq]
    total = int(per.sum())
    pos = np.repeat(np.arange(len(seq), dtype=np.int64), per)  # one entry per range of each position
    first = np.cumsum(counts) - counts
    index = np.repeat(first[seq] - np.cumsum(per) + per, per) + np.arange(total, dtype=np.int64)
    space = ranges.space[index] << _SPACE_SHIFT
    keys = np.concatenate((space | ranges.start[index], space | ranges.end[index]))
    del space
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    fresh = np.empty(len(keys), dtype=bool)
    fresh[0] = True
    np.not_equal(keys[1:], keys[:-1], out=fresh[1:])
    del keys
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.cumsum(fresh) - 1
    del fresh
    lo, cover = rank[:total], rank[total:] - rank[:total]  # elementary segments covered, >= 1
    write = ranges.write[index]
    grouped = None
    if int(cover.max()) > 1:  # partial overlaps: one entry per covered segment
        entry = np.repeat(np.arange(total, dtype=np.int64), cover)
        seg = lo[entry] + np.arange(len(entry), dtype=np.int64) - np.repeat(np.cumsum(cover) - cover, cover)
        pos, write = pos[entry], write[entry]
    else:  # whole buffers (the usual case): the stable sort of the keys already grouped the starts
        seg = lo.copy()
        grouped = order[order < total]
    if sync.any():  # segments restart at each sync: number them apart per epoch
        seg += np.cumsum(sync[seq])[pos] * (int(seg.max()) + 1)
    return pos, write, seg, grouped


def _latest(seq: np.ndarray, units: np.ndarray, ranges: Ranges, sync: np.ndarray) -> np.ndarray:
    """For each position of the analysed sequence ``seq`` (static indices) and each unit, the
    latest earlier position it conflicts with (-1: none); own-unit columns are -1."""
    n = len(seq)
    latest = np.full((n, _UNITS), -1, dtype=np.int64)
    if not np.bincount(ranges.owner, minlength=len(sync))[seq].any():
        return latest
    epos, write, seg, order = accesses(seq, ranges, sync)
    if order is None:  # entries come in position order: now (segment, position)
        order = np.argsort(seg, kind="stable")
    at, write, seg = epos[order], write[order], seg[order]
    # Running maxima must restart in each segment: values are offset by the segment's group number.
    base = np.cumsum(np.concatenate(([False], seg[1:] != seg[:-1]))) * (n + 1)
    del seg
    value, floor, unit = base + at, base - 1, units[seq][at]
    back = np.empty(len(order), dtype=np.int64)  # sorted -> position order
    back[order] = np.arange(len(order))
    starts = np.flatnonzero(np.concatenate(([True], epos[1:] != epos[:-1])))
    owners = epos[starts]
    for u in range(_UNITS):
        mine = unit == u
        if mine.any():
            last_write = np.maximum.accumulate(np.where(mine & write, value, floor)) - base
            last_any = np.maximum.accumulate(np.where(mine, value, floor)) - base
            found = np.where(write, last_any, last_write)[back]  # back in position order, then
            latest[owners, u] = np.maximum.reduceat(found, starts)  # the maximum over each position's
    own = units[seq]
    rows = np.flatnonzero(own < _UNITS)  # sync (the control unit) has no ranges
    latest[rows, own[rows]] = -1
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


def dependencies(tree: Block, units: Sequence[int], reads: Sequence[tuple[Range, ...]],
                 writes: Sequence[tuple[Range, ...]], sync: Sequence[bool]) -> list[Deps]:
    """``distances`` as one tuple per dynamic instruction (units in order, none left out), from
    per-static-instruction ``reads``/``writes`` tuples."""
    dist = distances(tree, np.asarray(units, dtype=np.int64), Ranges.of(reads, writes), np.asarray(sync, dtype=bool))
    return [tuple(d for d in row if d) for row in dist.tolist()]
