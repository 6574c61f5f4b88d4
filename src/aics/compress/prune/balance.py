"""Grouped convolutions: pruning must leave every group as wide as the others.

A grouped conv (``groups`` g, not depthwise) splits its input and its output channels into g
contiguous groups. After pruning each group must keep the same number of channels, otherwise the
layer is no longer a grouped conv. The usual rule, "tie position j of every group", is sufficient
but much too strong: where a concat puts channels at offsets that are not multiples of the group
width (ShuffleNet v1: a 24-channel stem next to a 216-wide branch read in 80-wide groups; a channel
shuffle of 60 channels read in 20-wide groups) the ties chain through the whole trunk and leave a
handful of classes. The real constraint is a count: every class must hold as many positions in each
group. ``balance`` merges union-find classes into the smallest blocks it finds that meet that count
for every grouped conv, so most channels stay separately removable. Which positions a group loses
then differs from group to group, so the conv's input columns are sliced per group (apply.py).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from aics.compress.prune.layout import UnionFind

Deviation = dict[tuple[int, int], int]  # (grid, group) -> g * count - total: zero when balanced

MAX_BLOCK = 12  # atoms in one searched block; bigger imbalances fall back to one merged block
MAX_STATES = 5000


def _deviations(uf: UnionFind, grids: list[np.ndarray]) -> dict[int, Deviation]:
    """Per class root, its nonzero deviations over all grids (classes balanced everywhere: absent)."""
    dev: dict[int, Deviation] = defaultdict(dict)
    for c, grid in enumerate(grids):
        roots = uf.classes(grid)
        g = roots.shape[0]
        uniq, inv = np.unique(roots, return_inverse=True)
        counts = np.zeros((len(uniq), g), dtype=np.int64)
        np.add.at(counts, (inv.reshape(roots.shape), np.arange(g)[:, None]), 1)
        d = counts * g - counts.sum(1, keepdims=True)
        for r, row in zip(uniq.tolist(), d.tolist()):
            for k, v in enumerate(row):
                if v:
                    dev[r][(c, k)] = v
    return {r: d for r, d in dev.items() if d}


def _add(a: Deviation, b: Deviation) -> Deviation:
    out = dict(a)
    for key, v in b.items():
        s = out.get(key, 0) + v
        if s:
            out[key] = s
        else:
            out.pop(key, None)
    return out


def _smallest_block(seed: int, sig: list[Deviation], avail: list[int], by_grid: dict[int, list[int]]
                    ) -> dict[int, int] | None:
    """Breadth-first: the fewest atoms (type -> count), seed included, whose deviations cancel."""
    frontier: list[tuple[Deviation, dict[int, int]]] = [(sig[seed], {seed: 1})]
    seen = {tuple(sorted(sig[seed].items()))}
    for _ in range(MAX_BLOCK - 1):
        nxt: list[tuple[Deviation, dict[int, int]]] = []
        for d, used in frontier:
            cands = sorted({t for c, _ in d for t in by_grid[c]})
            for t in cands:
                if used.get(t, 0) >= avail[t]:
                    continue
                nd = _add(d, sig[t])
                nused = {**used, t: used.get(t, 0) + 1}
                if not nd:
                    return nused
                key = tuple(sorted(nd.items()))
                if key not in seen and len(seen) < MAX_STATES:
                    seen.add(key)
                    nxt.append((nd, nused))
        frontier = nxt
        if not frontier:
            break
    return None


def balance(uf: UnionFind, grids: list[np.ndarray]) -> bool:
    """Merge classes until each is balanced over every grid (g, width); True if anything merged."""
    dev = _deviations(uf, grids)
    if not dev:
        return False
    if _pair_local_singletons(uf, grids, dev):  # the common case, cheap: recount before searching
        dev = _deviations(uf, grids)
        if not dev:
            return True
    # atoms with the same deviations are interchangeable: search over types, not single classes
    types: dict[tuple, list[int]] = defaultdict(list)
    for r, d in dev.items():
        types[tuple(sorted(d.items()))].append(r)
    keys = sorted(types, key=lambda k: (-len(types[k]), k))
    sig = [dict(k) for k in keys]
    pools = [types[k] for k in keys]
    avail = [len(p) for p in pools]
    by_grid: dict[int, list[int]] = defaultdict(list)
    for t, s in enumerate(sig):
        for c in sorted({c for c, _ in s}):
            by_grid[c].append(t)
    for seed in range(len(sig)):
        while avail[seed]:
            block = _smallest_block(seed, sig, avail, by_grid)
            if block is None:  # no small block: cut what is left of the component evenly
                _merge_component(uf, seed, sig, pools, avail, by_grid)
                break
            times = min(avail[t] // n for t, n in block.items())
            for _ in range(times):
                atoms = [pools[t][avail[t] - 1 - i] for t, n in block.items() for i in range(n)]
                for t, n in block.items():
                    avail[t] -= n
                uf.union_all(np.asarray(atoms, dtype=np.int64))
    return True


def _pair_local_singletons(uf: UnionFind, grids: list[np.ndarray], dev: dict[int, Deviation]) -> bool:
    """A class seen once in one grid and in no other (a ResNeXt conv's own channels) pairs with such
    classes of the other groups by rank: "the same position in every group" where that is free."""
    per_grid: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for r, d in dev.items():
        (c, *rest) = {c for c, _ in d}
        g = grids[c].shape[0]
        if not rest and sum(1 for v in d.values() if v == g - 1) == 1 and len(d) == g:
            k = next(k for (_, k), v in d.items() if v == g - 1)
            per_grid[c][k].append(r)
    merged = False
    for c, lists in per_grid.items():
        g = grids[c].shape[0]
        if len(lists) < g:
            continue
        order = {int(r): i for i, r in enumerate(uf.classes(grids[c]).ravel().tolist())}
        cols = [sorted(lists[k], key=lambda r: order.get(r, 0)) for k in range(g)]
        for atoms in zip(*cols):
            merged |= uf.union_all(np.asarray(atoms, dtype=np.int64))
    return merged


def _merge_component(uf: UnionFind, seed: int, sig: list[Deviation], pools: list[list[int]],
                     avail: list[int], by_grid: dict[int, list[int]]) -> None:
    """Split what remains of ``seed``'s component (types linked through shared grids) into G equal
    blocks, G the gcd of the types' remaining counts: the remainder is balanced, so is 1/G of it."""
    todo, comp = [seed], {seed}
    while todo:
        t = todo.pop()
        for c in {c for c, _ in sig[t]}:
            for u in by_grid[c]:
                if u not in comp and avail[u]:
                    comp.add(u)
                    todo.append(u)
    parts = math.gcd(*(avail[t] for t in comp))
    for i in range(parts):
        atoms = [a for t in comp for a in pools[t][:avail[t]][i::parts]]
        uf.union_all(np.asarray(atoms, dtype=np.int64))
    for t in comp:
        avail[t] = 0
