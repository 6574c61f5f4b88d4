"""Channel ids and how they flow through tensor axes: the vocabulary of the dependency graph.

Every prunable channel in a network gets an integer *id*. A tensor carries a ``Layout``: the axes
whose elements belong to channels (its *tracked* axes) and an array giving, for each position along
those axes, the id of the channel it belongs to. A conv output tracks axis 1 with fresh ids; a
flatten repeats each id H*W times; a channel shuffle permutes them; a concat joins two arrays.
Ops that force two channels to be pruned together (a residual add, a depthwise conv) *merge* their
ids in a union-find: the merged sets are the units of pruning ("classes").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class UnionFind:
    """Union-find over ids 0..n-1 that grows on demand (``new`` hands out fresh ids)."""

    def __init__(self) -> None:
        self.parent: list[int] = []

    def new(self, count: int) -> np.ndarray:
        start = len(self.parent)
        self.parent.extend(range(start, start + count))
        return np.arange(start, start + count, dtype=np.int64)

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[max(ra, rb)] = min(ra, rb)
        return True

    def union_arrays(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Merge ``a[i]`` with ``b[i]`` elementwise (shapes broadcast); True if anything changed."""
        a, b = np.broadcast_arrays(a, b)
        changed = False
        for x, y in zip(a.ravel().tolist(), b.ravel().tolist()):
            changed |= self.union(x, y)
        return changed

    def union_all(self, ids: np.ndarray) -> bool:
        flat = ids.ravel().tolist()
        changed = False
        for y in flat[1:]:
            changed |= self.union(flat[0], y)
        return changed

    def roots(self) -> np.ndarray:
        """The class of every id so far, as an array (index it with an id array: ``roots[ids]``)."""
        return np.asarray([self.find(i) for i in range(len(self.parent))], dtype=np.int64)

    def classes(self, ids: np.ndarray) -> np.ndarray:
        """The class (root id) of every id in ``ids``, same shape."""
        flat = [self.find(x) for x in ids.ravel().tolist()]
        return np.asarray(flat, dtype=np.int64).reshape(ids.shape)


@dataclass(frozen=True)
class Layout:
    """Which axes of a tensor carry channels, and the channel id at every position along them.

    ``ids.shape == tuple(shape[a] for a in axes)``; ``axes`` is sorted. An untracked tensor (the
    network input, an index tensor) has ``axes == ()``.
    """

    axes: tuple[int, ...]
    ids: np.ndarray

    @staticmethod
    def none() -> "Layout":
        return Layout((), np.zeros((), dtype=np.int64))

    @property
    def tracked(self) -> bool:
        return bool(self.axes)

    def over(self, axes: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
        """Ids broadcast over ``axes`` (a superset of ours, sorted) of a tensor of ``shape``."""
        src = [axes.index(a) for a in self.axes]
        view_shape = [1] * len(axes)
        for pos, a in zip(src, self.axes):
            view_shape[pos] = shape[a]
        return np.broadcast_to(self.ids.reshape(view_shape), tuple(shape[a] for a in axes)).copy()

    def normalized(self) -> "Layout":
        """Drop tracked axes along which the id never changes (they carry no channel)."""
        keep_axes, ids = [], self.ids
        for pos in range(len(self.axes) - 1, -1, -1):
            first = np.take(ids, [0], axis=pos)
            if ids.shape[pos] == 1 or np.array_equal(np.broadcast_to(first, ids.shape), ids):
                ids = np.take(ids, 0, axis=pos)
            else:
                keep_axes.append(self.axes[pos])
        return Layout(tuple(reversed(keep_axes)), ids) if keep_axes else Layout.none()


def reshape_runs(old: tuple[int, ...], new: tuple[int, ...]) -> list[tuple[list[int], list[int]]]:
    """Pair contiguous runs of old and new axes with equal products (a reshape maps run to run)."""
    runs, i, j = [], 0, 0
    while i < len(old) or j < len(new):
        oa, na, po, pn = [], [], 1, 1
        if i < len(old):
            oa.append(i)
            po *= old[i]
            i += 1
        if j < len(new):
            na.append(j)
            pn *= new[j]
            j += 1
        while po != pn:
            if po < pn and i < len(old):
                oa.append(i)
                po *= old[i]
                i += 1
            elif j < len(new):
                na.append(j)
                pn *= new[j]
                j += 1
            else:
                raise ValueError(f"cannot reshape {old} to {new}")
        runs.append((oa, na))
    return runs
