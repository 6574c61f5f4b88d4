"""The dependency graph of a model: which channels must be pruned together, and where they live.

``DependencyGraph.build(model, input_shape)`` traces the model into our IR (``aics.ir``), runs the
channel tracer over it, then
1. makes every tensor with channels on several axes prunable as a product set (a channel shuffle's
   (groups, c/g) view, attention's (q/k/v, heads, head_dim)): it merges along all axes but one,
   and makes every class hold as many channels in each group of every grouped conv (balance.py),
2. blocks slices it cannot rewrite when their positions could move,
3. groups the resulting channel classes into ``Group``s: classes that share a parameter tensor.
A class is the unit of pruning; a ``Member`` says which indices of one parameter axis belong to which
class of the group. Groups are what importance criteria score and what local ratios apply to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import torch
from torch import fx, nn

from aics.compress.prune.balance import balance
from aics.compress.prune.layout import UnionFind
from aics.compress.prune.tracer import ChannelTracer
from aics.ir.graph import Graph
from aics.ir.torch_import import import_traced

SPLIT_CALLS = frozenset({"split", "chunk"})


@dataclass(frozen=True)
class Member:
    """Axis ``axis`` of parameter/buffer ``param``: ``classes[i]`` is the group-local class of index i."""

    param: str
    axis: int
    classes: np.ndarray
    role: str  # out | in | norm | stat | const (see tracer.ParamAxis)
    node: str  # IR op node that reads it

    @property
    def module(self) -> str:
        return self.param.rpartition(".")[0]


@dataclass(frozen=True)
class Group:
    """Coupled channels: ``size`` classes, each removable only as a whole across all ``members``."""

    index: int
    name: str
    size: int
    members: tuple[Member, ...]
    blocked: np.ndarray  # bool per class: may never be removed
    params: Mapping[str, torch.Tensor] = field(compare=False, repr=False)

    @property
    def prunable(self) -> int:
        return int(self.size - self.blocked.sum())

    def role(self, *roles: str) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.role in roles)

    def tensor(self, member: Member) -> torch.Tensor:
        return self.params[member.param].detach()


@dataclass(frozen=True)
class Segment:
    """At least ``min_keep`` (and ``min_ratio`` of them) of ``classes`` of group ``group`` survive."""

    group: int
    classes: np.ndarray
    kind: str  # producer (a layer's output channels) or slice (a split part)


class DependencyGraph:
    """Built once per model state; holds the IR, the fx module and the channel classes."""

    def __init__(self, model: nn.Module, input_shape: tuple[int, ...], graph: Graph, gm: fx.GraphModule,
                 fxmap: dict[str, str], tracer: ChannelTracer) -> None:
        self.model, self.input_shape, self.graph, self.gm, self.fxmap = model, input_shape, graph, gm, fxmap
        self.tracer = tracer
        self.root = tracer.uf.roots()  # the union-find is final from here on
        self.groups, self.segments, self.class_root = _make_groups(gm, graph, tracer)

    @classmethod
    def build(cls, model: nn.Module, input_shape: tuple[int, ...], input_dtype: str = "float32") -> "DependencyGraph":
        graph, gm, fxmap = import_traced(model, tuple(input_shape), input_dtype)
        tracer = ChannelTracer(graph, _rewritable_slices(gm, graph)).run()
        _resolve_grids(tracer)
        while balance(tracer.uf, tracer.balanced):  # merges can break a product set, and back
            _resolve_grids(tracer)
        _block_fixed_slices(tracer)
        return cls(model, tuple(input_shape), graph, gm, fxmap, tracer)

    @property
    def prunable(self) -> int:
        return sum(g.prunable for g in self.groups)

    def classes(self, ids: np.ndarray) -> np.ndarray:
        return self.root[ids]

    def removed_mask(self, removed: set[int]) -> np.ndarray:
        """Boolean array over ids: True where the id's class is in ``removed`` (roots)."""
        mask = np.zeros(len(self.root), dtype=bool)
        if removed:
            mask[np.fromiter(removed, dtype=np.int64)] = True
        return mask[self.root]

    def kept(self, ids: np.ndarray, removed: np.ndarray) -> np.ndarray:
        """Which positions of ``ids`` survive; ``removed`` comes from ``removed_mask``."""
        return ~removed[ids]


def _rewritable_slices(gm: fx.GraphModule, graph: Graph) -> frozenset[str]:
    """IR slices made by torch.split / chunk calls: applying a plan rewrites their sizes."""
    names = set()
    for n in gm.graph.nodes:
        target = n.target if n.op == "call_method" else getattr(n.target, "__name__", "")
        if n.op in ("call_method", "call_function") and target in SPLIT_CALLS:
            k = 0
            while f"{n.name}.{k}" in graph:
                names.add(f"{n.name}.{k}")
                k += 1
    return frozenset(names)


def _free_axis(classes: np.ndarray) -> int | None:
    """An axis p with every slice ``classes[..., i, ...]`` (along p) holding one class, if any."""
    for p in range(classes.ndim):
        moved = np.moveaxis(classes, p, 0).reshape(classes.shape[p], -1)
        if np.all(moved == moved[:, :1]):
            return p
    return None


def _resolve_grids(t: ChannelTracer) -> None:
    """Make multi-axis layouts product sets: merge along every axis but the largest (ties: last)."""
    changed = True
    while changed:
        changed = False
        for lay in t.layouts.values():
            if len(lay.axes) < 2 or _free_axis(t.uf.classes(lay.ids)) is not None:
                continue
            sizes = lay.ids.shape
            free = max(range(len(sizes)), key=lambda p: (sizes[p], p))
            for i in range(sizes[free]):
                t.uf.union_all(np.take(lay.ids, i, axis=free))
            changed = True


def _block_fixed_slices(t: ChannelTracer) -> None:
    """A slice we cannot rewrite (x[:, :k], qkv[0]) is safe only if its axis can never shrink."""
    for name, axis in t.fixed_slices:
        lay = t.layouts.get(name)
        if lay is None or axis not in lay.axes:
            continue
        moved = np.moveaxis(t.uf.classes(lay.ids), lay.axes.index(axis), 0)
        if not np.all(moved == moved[:1]):  # pruning could remove positions along the sliced axis
            t.block(lay.ids)


def _make_groups(model: nn.Module, graph: Graph, t: ChannelTracer
                 ) -> tuple[tuple[Group, ...], tuple[Segment, ...], dict[tuple[int, int], int]]:
    state = model.state_dict(keep_vars=True)
    for p in t.params:  # constants that are not real parameters (e.g. derived MHA slices) stay fixed
        if p.const not in state:
            t.block(p.ids)
    blocked = {t.uf.find(i) for arr in t.blocked for i in arr.tolist()}
    params = [p for p in t.params if p.const in state]
    root = t.uf.roots()
    member_roots = [root[p.ids] for p in params]
    linker = UnionFind()
    slot: dict[int, int] = {}
    for roots in member_roots:
        uniq = list(dict.fromkeys(roots.tolist()))
        for r in uniq:
            if r not in slot:
                slot[r] = int(linker.new(1)[0])
        for r in uniq[1:]:
            linker.union(slot[uniq[0]], slot[r])
    order: dict[int, dict[int, None]] = {}  # linker root -> roots in order of first appearance
    for roots in member_roots:
        for r in dict.fromkeys(roots.tolist()):
            order.setdefault(linker.find(slot[r]), {})[r] = None
    comps = [list(c) for c in order.values()]
    local = {r: (gi, ci) for gi, comp in enumerate(comps) for ci, r in enumerate(comp)}
    members: list[list[Member]] = [[] for _ in comps]
    for p, roots in zip(params, member_roots):
        gi = local[int(roots.flat[0])][0]
        cls = np.array([local[r][1] for r in roots.tolist()], dtype=np.int64)
        members[gi].append(Member(p.const, p.axis, cls, p.role, p.node))
    groups = []
    for gi, comp in enumerate(comps):
        outs = [m for m in members[gi] if m.role == "out"]
        name = (outs[0] if outs else members[gi][0]).module or members[gi][0].param
        groups.append(Group(gi, name, len(comp), tuple(members[gi]),
                            np.array([r in blocked for r in comp], dtype=bool), state))
    segments = _segments(groups, graph, t, local, root)
    return tuple(groups), segments, {v: k for k, v in local.items()}


def _segments(groups: list[Group], graph: Graph, t: ChannelTracer,
              local: dict[int, tuple[int, int]], root: np.ndarray) -> tuple[Segment, ...]:
    seen, out = set(), []

    def add(gi: int, classes: np.ndarray, kind: str) -> None:
        key = (gi, tuple(classes.tolist()))
        if key not in seen:
            seen.add(key)
            out.append(Segment(gi, classes, kind))

    for g in groups:
        for m in g.role("out"):
            if m.axis == 0 or graph[m.node].op == "conv_transpose2d":
                add(g.index, np.unique(m.classes), "producer")
    for node in graph.nodes:
        if node.op == "slice" and node.name in t.layouts and t.layouts[node.name].tracked:
            roots = np.unique(root[t.layouts[node.name].ids])
            located = [local[r] for r in roots.tolist() if r in local]
            if located and len({gi for gi, _ in located}) == 1:
                add(located[0][0], np.array(sorted(c for _, c in located)), "slice")
    return tuple(out)
