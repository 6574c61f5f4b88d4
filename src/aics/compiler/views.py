"""Tensors that share DRAM bytes with another tensor instead of being copied.

A *view* is ``(base, offset)``: the tensor's bytes are those of ``base`` from byte ``offset`` on.
Activations are row-major NCHW with batch 1, so a run of channels (a slice along an axis with
only size-1 axes before it) is one contiguous byte range. With equal quantisation on both
sides (the quantizer gives a concat's inputs and output one set of params; slice and reshape
share their input's) these data-movement nodes need no instruction at all:

* ``reshape``: the output is its input's bytes (offset 0);
* ``slice`` with step 1 along such an axis: a view of its input at ``start * inner`` bytes;
* ``concat`` along such an axis: its inputs are *placed in* the output, each producer writing
  straight into its slot (offset = the channels before it). Concats are visited last-first, so
  when DenseNet concatenates ``[x0]``, ``[x0, x1]``, ..., ``[x0 .. xL]``, the last one places
  every ``x_i`` and each earlier one finds its inputs already adjacent: it becomes a view of a
  prefix of the last one's bytes. An input that cannot move (a graph input, a view, a tensor placed
  in another concat elsewhere) keeps its own region and is copied; so are all the inputs of a
  concat that takes one tensor twice.

Every tensor is written once and DRAM regions are never reused (``memory``), so a shared region
cannot be overwritten while a view of it is live; the simulator orders readers of a view after
the writers of its bytes by address, as for any tensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from aics.compiler.lower.common import numel
from aics.ir.graph import Graph, Node
from aics.ir.quant import QuantParams


@dataclass(frozen=True)
class View:
    base: str
    offset: int  # bytes


@dataclass(frozen=True)
class ViewPlan:
    views: dict[str, View]
    free: frozenset[str]  # concat / slice nodes that need no instruction

    def resolve(self, name: str) -> tuple[str, int]:
        """The tensor that owns ``name``'s bytes, and the byte offset within it."""
        offset = 0
        while name in self.views:
            view = self.views[name]
            name, offset = view.base, offset + view.offset
        return name, offset


def plan_views(graph: Graph, produced: set[str], aliases: dict[str, str],
               qp: Callable[[str], QuantParams | None], elem_bytes: Callable[[str], int]) -> ViewPlan:
    """The views of ``graph``'s tensors. ``produced``: tensors some lowered layer writes (only those
    can be placed inside a concat); ``aliases``: reshape outputs and their inputs."""
    views = {name: View(target, 0) for name, target in aliases.items()}
    free: set[str] = set()
    for node in graph.nodes:
        offset = _slice_view(graph, node, qp) if node.op == "slice" else None
        if offset is not None:
            views[node.name] = View(node.inputs[0], offset * elem_bytes(node.name))
            free.add(node.name)
    plan = ViewPlan(views, frozenset())

    def in_place(node: Node, slots: list[tuple[str, int]]) -> bool:
        """Whether every input of ``node`` lies in its slot of the output's bytes."""
        root, at = plan.resolve(node.name)
        return all(plan.resolve(name) == (root, at + off) for name, off in slots)

    for node in reversed(graph.nodes):
        if node.op != "concat" or node.name not in produced or not _contiguous_parts(graph, node, qp):
            continue
        slots = _slots(graph, node, elem_bytes(node.name))
        if len({name for name, _ in slots}) < len(slots):
            continue  # an operand twice: it cannot lie in two slots
        root, at = plan.resolve(slots[0][0])
        if node.name not in views and root != node.name and \
                all(plan.resolve(name) == (root, at + off) for name, off in slots):
            views[node.name] = View(root, at)  # its inputs already lie side by side: a prefix view
            free.add(node.name)
            continue
        home = plan.resolve(node.name)[0]
        for name, off in slots:
            if name in produced and name not in views and name != home:
                views[name] = View(node.name, off)
        if in_place(node, slots):
            free.add(node.name)
    return ViewPlan(views, frozenset(free))


def _axis_outer(node: Node, axis: int) -> tuple[int, int]:
    a = axis % len(node.shape)
    return a, numel(node.shape[:a])


def _slice_view(graph: Graph, node: Node, qp: Callable[[str], QuantParams | None]) -> int | None:
    """The element offset of a slice that is a contiguous run of its input, else None."""
    x = graph[node.inputs[0]]
    a, outer = _axis_outer(x, node.attrs.axis)
    if node.attrs.step != 1 or outer != 1 or qp(node.name) != qp(x.name):
        return None
    size = x.shape[a]
    start = node.attrs.start + size if node.attrs.start < 0 else node.attrs.start
    return min(max(start, 0), size) * numel(x.shape[a + 1:])


def _contiguous_parts(graph: Graph, node: Node, qp: Callable[[str], QuantParams | None]) -> bool:
    _, outer = _axis_outer(node, node.attrs.axis)
    return outer == 1 and all(qp(name) == qp(node.name) for name in node.inputs)


def _slots(graph: Graph, node: Node, elem: int) -> list[tuple[str, int]]:
    """(input, byte offset of its slot in the output) of a concat with only size-1 outer axes."""
    a, _ = _axis_outer(node, node.attrs.axis)
    inner = numel(node.shape[a + 1:])
    out, off = [], 0
    for name in node.inputs:
        out.append((name, off * inner * elem))
        off += graph[name].shape[a]
    return out
