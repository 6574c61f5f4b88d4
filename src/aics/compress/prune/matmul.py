"""Channel layouts through ``matmul``: attention heads.

``a (..., M, K) @ b (..., K, N)``. A tracked *batch* axis is an attention head axis (q, k and v
reshaped to (b, heads, n, head_dim)): we prune whole heads, so every channel inside one head's
fibre is merged into one class, and the same head of both operands is merged. The contraction
axis K couples a's and b's channels. Anything else that would make one output element depend on
two channel sets (a tracked M times a tracked N) is blocked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from aics.compress.prune.layout import Layout
from aics.ir.graph import Node

if TYPE_CHECKING:
    from aics.compress.prune.tracer import ChannelTracer


def _head_reps(t: "ChannelTracer", lay: Layout, batch_axes: list[int]) -> np.ndarray:
    """Merge every channel in each head fibre; return one representative id per head index."""
    pos = [lay.axes.index(a) for a in batch_axes]
    arr = np.moveaxis(lay.ids, pos, list(range(len(pos))))
    heads = arr.shape[:len(pos)]
    flat = arr.reshape(int(np.prod(heads)), -1)
    for row in flat:
        t.uf.union_all(row)
    return flat[:, 0].reshape(heads)


def matmul_layout(t: "ChannelTracer", node: Node) -> Layout:
    a, b = t.g[node.inputs[0]], t.g[node.inputs[1]]
    ra, rb, r = len(a.shape), len(b.shape), len(node.shape)
    la, lb = t.L(a.name), t.L(b.name)
    if not la.tracked and not lb.tracked:
        return Layout.none()
    if ra < 2 or rb < 2:
        t.block(la, lb)
        return Layout.none()
    ops = [  # (node, rank offset into output, M-or-N axis, K axis)
        (a, r - ra, ra - 2, ra - 1),
        (b, r - rb, rb - 1, rb - 2),
    ]
    if (ra - 1) in la.axes or (rb - 2) in lb.axes:
        t.ensure(a.name, ra - 1, node.name)
        t.ensure(b.name, rb - 2, node.name)
    reps: dict[int, list[np.ndarray]] = {}  # output batch axis -> per-operand representative ids
    rows: list[Layout] = []  # single-axis M / N contributions (operands without a head axis)
    k_ids: list[np.ndarray] = []  # per operand: ids along K (head-merged), over (heads..., K)
    for x, off, mn, k in ops:
        lay = t.L(x.name)
        batch = [ax for ax in lay.axes if ax < len(x.shape) - 2]
        if batch:
            rep = _head_reps(t, lay, batch)
            for i, ax in enumerate(batch):
                reps.setdefault(ax + off, []).append(np.moveaxis(rep, i, 0).reshape(rep.shape[i], -1)[:, 0])
            if k in lay.axes:  # K is inside the head fibres: the heads stand for it
                k_ids.append(rep.ravel())
            continue
        others = [ax for ax in lay.axes if ax != k]
        if others and k in lay.axes:  # channels on M (or N) and on K of one operand: outer product
            t.block(lay)
            continue
        if others == [mn]:
            rows.append(Layout((mn + off if x is a else r - 1,), lay.ids))
        if k in lay.axes:
            k_ids.append(lay.ids)
    if len(k_ids) == 2:
        ka, kb = k_ids
        if ka.size == kb.size:
            t.uf.union_arrays(ka, kb)
        else:  # a head-merged side against a plain K side: every head shares those channels
            t.uf.union_all(np.concatenate([ka.ravel(), kb.ravel()]))
    for ax, ids in reps.items():
        for other in ids[1:]:
            t.uf.union_arrays(ids[0], other)
    if reps:
        axes = tuple(sorted(reps))
        return _batch_layout(axes, [reps[ax][0] for ax in axes], node.shape)
    if len(rows) == 2:
        t.block(*rows)
        return Layout.none()
    return rows[0] if rows else Layout.none()


def _batch_layout(axes: tuple[int, ...], per_axis: list[np.ndarray], shape: tuple[int, ...]) -> Layout:
    """Output ids over the head axes; with several head axes any one representative per index works
    because their fibres are merged, so broadcast the first axis's ids."""
    grids = np.meshgrid(*[np.arange(shape[ax]) for ax in axes], indexing="ij")
    ids = per_axis[0][grids[0]] if len(axes) > 1 else per_axis[0]
    return Layout(axes, np.asarray(ids))
