"""Walk the IR once and give every tensor a channel ``Layout`` (see layout.py).

One rule per op family: producers (conv, linear, embedding) create fresh ids; elementwise ops,
depthwise convs and matmul contractions merge ids; concat, slice, reshape and permute move them
around. Weight tensors get ``ParamAxis`` records: which ids each slice of a parameter belongs to.
Anything whose channels cannot safely change (graph outputs, reductions over channels, RNNs,
outer products of two channel sets) is *blocked*: its ids may never be removed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aics.compress.prune.layout import Layout, UnionFind, reshape_runs
from aics.ir.graph import Graph, Node
from aics.ir.ops import ELEMENTWISE_UNARY

PASS_THROUGH = ELEMENTWISE_UNARY | {"local_response_norm"}
SPATIAL = {"max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "resize"}


@dataclass(frozen=True)
class ParamAxis:
    """Axis ``axis`` of the constant ``const`` holds the channels ``ids`` (one id per index)."""

    const: str
    axis: int
    ids: np.ndarray
    role: str  # out (producer rows), in (consumer columns), norm (BN/LN/PReLU affine), stat, const
    node: str  # the op node that reads the constant


class ChannelTracer:
    """Assigns layouts; after ``run()`` read ``layouts``, ``params``, ``blocked`` and ``uf``."""

    def __init__(self, graph: Graph, rewritable_slices: frozenset[str] = frozenset()) -> None:
        self.g = graph
        self.uf = UnionFind()
        self.layouts: dict[str, Layout] = {}
        self.params: list[ParamAxis] = []
        self.blocked: list[np.ndarray] = []
        self.rewritable_slices = rewritable_slices
        self.fixed_slices: list[tuple[str, int]] = []  # (input tensor, axis) of slices we cannot rewrite
        self.norm_after: dict[str, str] = {}  # producer op node -> batch_norm node reading it directly
        self._const_axes: dict[tuple[str, int], np.ndarray] = {}
        self.balanced: list[np.ndarray] = []  # (groups, width) id grids of grouped convs

    # -- helpers --------------------------------------------------------------------------------
    def L(self, name: str) -> Layout:
        return self.layouts.get(name, Layout.none())

    def block(self, *layouts_or_ids: Layout | np.ndarray) -> None:
        for item in layouts_or_ids:
            ids = item.ids if isinstance(item, Layout) else item
            if isinstance(item, Layout) and not item.tracked:
                continue
            self.blocked.append(np.asarray(ids).ravel())

    def fresh(self, n: int, blocked: bool = False) -> np.ndarray:
        ids = self.uf.new(n)
        if blocked:
            self.blocked.append(ids)
        return ids

    def const_axis(self, const: str, axis: int, role: str, reader: str) -> np.ndarray:
        """Ids for one axis of a constant (one ParamAxis per constant axis, shared by readers)."""
        key = (const, axis)
        if key not in self._const_axes:
            ids = self.fresh(self.g[const].shape[axis])
            self._const_axes[key] = ids
            self.params.append(ParamAxis(const, axis, ids, role, reader))
            if not self.L(const).tracked:
                self.layouts[const] = Layout((axis,), ids)
        return self._const_axes[key]

    def ensure(self, name: str, axis: int, reader: str) -> Layout:
        """The layout of ``name`` made to track ``axis``: a constant (possibly behind expand or a
        slice of another axis) gets prunable ids, any other tensor gets blocked ids."""
        lay, node = self.L(name), self.g[name]
        if axis in lay.axes or node.shape[axis] == 1:
            return lay
        axes = tuple(sorted(set(lay.axes) | {axis}))
        if lay.tracked:  # a second channel axis on one tensor would be an outer product: block it
            self.block(lay)
            new = Layout(axes, lay.over(axes, node.shape))
        else:
            new = Layout(axes, self._source_ids(node, axis, reader))
        self.layouts[name] = new
        return new

    def _source_ids(self, node: Node, axis: int, reader: str) -> np.ndarray:
        if node.op == "const":
            return self.const_axis(node.name, axis, "const", reader)
        if node.op == "expand" or (node.op == "slice" and node.attrs.axis != axis):
            src = self.g[node.inputs[0]]
            a = axis - (len(node.shape) - len(src.shape))
            if a >= 0 and src.shape[a] == node.shape[axis]:
                inner = self.ensure(src.name, a, reader)
                if inner.axes == (a,):
                    return inner.ids
        return self.fresh(node.shape[axis], blocked=True)

    # -- the walk -------------------------------------------------------------------------------
    def run(self) -> "ChannelTracer":
        for node in self.g.nodes:
            handler = getattr(self, f"_op_{node.op}", None)
            if node.op in ("input", "const"):
                continue
            if handler is not None:
                out = handler(node)
            elif node.op in PASS_THROUGH:
                out = self.L(node.inputs[0])
            elif node.op in SPATIAL:
                out = self._spatial(node)
            else:  # an op we do not reason about: nothing through it may change
                for i in node.inputs:
                    self.block(self.L(i))
                out = Layout.none()
            self.layouts[node.name] = out.normalized() if out.tracked else out
        for name in self.g.outputs:
            self.block(self.L(name))
        return self

    def _spatial(self, node: Node) -> Layout:
        lay = self.L(node.inputs[0])
        if any(a >= 2 for a in lay.axes):
            self.block(lay)
            return Layout.none()
        return lay

    def _op_conv2d(self, node: Node) -> Layout:
        x, w = self.g[node.inputs[0]], self.g[node.inputs[1]]
        lay = self.L(x.name)
        if lay.tracked and lay.axes != (1,):
            self.block(lay)
            lay = Layout.none()
        cin, groups = x.shape[1], node.attrs.groups
        out = self.const_axis(w.name, 0, "out", node.name)
        if groups == 1:
            if lay.tracked:
                self._param(w.name, 1, lay.ids, "in", node.name)
        elif cin == groups:  # depthwise (with multiplier cout // cin): output i*m+t follows input i
            if lay.tracked:
                self.uf.union_arrays(out.reshape(cin, -1), lay.ids.reshape(cin, 1))
            else:
                self.block(out)
        else:  # grouped: every group must keep as many channels as the others (balance.py);
            # the weight's input columns depend on the row's group, so apply.py slices them per group
            self.balanced.append(out.reshape(groups, -1))
            if lay.tracked:
                self.balanced.append(lay.ids.reshape(groups, -1))
        if len(node.inputs) > 2:
            self._param(node.inputs[2], 0, out, "out", node.name)
        return Layout((1,), out)

    def _op_conv_transpose2d(self, node: Node) -> Layout:
        x, w = self.g[node.inputs[0]], self.g[node.inputs[1]]
        lay = self.L(x.name)
        if node.attrs.groups != 1 or (lay.tracked and lay.axes != (1,)):
            self.block(lay)
            return Layout((1,), self.fresh(node.shape[1], blocked=True))
        out = self.const_axis(w.name, 1, "out", node.name)
        if lay.tracked:
            self._param(w.name, 0, lay.ids, "in", node.name)
        if len(node.inputs) > 2:
            self._param(node.inputs[2], 0, out, "out", node.name)
        return Layout((1,), out)

    def _op_linear(self, node: Node) -> Layout:
        x, w = self.g[node.inputs[0]], self.g[node.inputs[1]]
        last = len(x.shape) - 1
        lay = self.L(x.name)
        if lay.tracked and lay.axes != (last,):
            self.block(lay)
            lay = Layout.none()
        out = self.const_axis(w.name, 0, "out", node.name)
        if lay.tracked:
            self._param(w.name, 1, lay.ids, "in", node.name)
        if len(node.inputs) > 2:
            self._param(node.inputs[2], 0, out, "out", node.name)
        return Layout((len(node.shape) - 1,), out)

    def _op_embedding(self, node: Node) -> Layout:
        out = self.const_axis(node.inputs[1], 1, "out", node.name)
        return Layout((len(node.shape) - 1,), out)

    def _op_batch_norm(self, node: Node) -> Layout:
        lay = self.L(node.inputs[0])
        if not lay.tracked:
            return lay
        if lay.axes != (1,):
            self.block(lay)
            return Layout.none()
        for k, c in enumerate(node.inputs[1:]):
            self._param(c, 0, lay.ids, "norm" if k < 2 else "stat", node.name)
        src = self.g[node.inputs[0]]
        if src.op in ("conv2d", "linear", "conv_transpose2d"):
            self.norm_after[src.name] = node.name
        return lay

    def _op_layer_norm(self, node: Node) -> Layout:
        lay = self.L(node.inputs[0])
        rank, n = len(node.shape), node.attrs.axes
        if not lay.tracked:
            return lay
        if n != 1 or lay.axes != (rank - 1,):
            self.block(lay)
            return Layout.none()
        for c in node.inputs[1:]:
            self._param(c, 0, lay.ids, "norm", node.name)
        return lay

    def _op_prelu(self, node: Node) -> Layout:
        lay, slope = self.L(node.inputs[0]), self.g[node.inputs[1]]
        if slope.numel > 1:
            if lay.axes == (1,):
                self._param(slope.name, 0, lay.ids, "norm", node.name)
            else:
                self.block(lay)
                return Layout.none()
        return lay

    def _param(self, const: str, axis: int, ids: np.ndarray, role: str, reader: str) -> None:
        """Tie axis ``axis`` of ``const`` to ``ids`` (merging if it was already tied elsewhere)."""
        key = (const, axis)
        if key in self._const_axes:
            self.uf.union_arrays(self._const_axes[key], ids)
            return
        self._const_axes[key] = ids
        self.params.append(ParamAxis(const, axis, ids, role, reader))

    # elementwise ------------------------------------------------------------------------------
    def _binary(self, node: Node) -> Layout:
        rank = len(node.shape)
        ins = [self.g[i] for i in node.inputs]
        offs = [rank - len(i.shape) for i in ins]
        tracked = sorted({a + o for i, o in zip(ins, offs) for a in self.L(i.name).axes})
        if not tracked:
            return Layout.none()
        full: list[np.ndarray] = []
        for i, o in zip(ins, offs):
            sizes = [i.shape[a - o] if a - o >= 0 else 1 for a in tracked]
            if all(s == 1 for s in sizes):
                if self.L(i.name).tracked:
                    self.block(self.L(i.name))
                continue
            if any(s == 1 for s in sizes):  # broadcast on one channel axis, not another: outer product
                for j in ins:
                    self.block(self.L(j.name))
                return Layout(tuple(tracked), self.fresh(int(np.prod([node.shape[a] for a in tracked])),
                                                         blocked=True).reshape([node.shape[a] for a in tracked]))
            lay = self.L(i.name)
            for a in tracked:
                lay = self.ensure(i.name, a - o, node.name)
            shifted = Layout(tuple(a + o for a in lay.axes), lay.ids)
            full.append(shifted.over(tuple(tracked), node.shape))
        for other in full[1:]:
            self.uf.union_arrays(full[0], other)
        return Layout(tuple(tracked), full[0])

    _op_add = _op_sub = _op_mul = _op_div = _binary

    # data movement ----------------------------------------------------------------------------
    def _op_concat(self, node: Node) -> Layout:
        axis = node.attrs.axis
        ins = [self.g[i] for i in node.inputs]
        tracked = sorted({a for i in ins for a in self.L(i.name).axes})
        if not tracked:
            return Layout.none()
        parts = []
        for i in ins:
            for a in tracked:
                self.ensure(i.name, a, node.name)
            parts.append(self.L(i.name).over(tuple(tracked), i.shape))
        if axis in tracked:
            if len(tracked) > 1:  # channels on the concat axis and on another one: give up here
                self.block(*[Layout(tuple(tracked), p) for p in parts])
                return Layout.none()
            return Layout(tuple(tracked), np.concatenate(parts))
        for p in parts[1:]:
            self.uf.union_arrays(parts[0], p)
        return Layout(tuple(tracked), parts[0])

    def _op_slice(self, node: Node) -> Layout:
        lay, a = self.L(node.inputs[0]), node.attrs.axis
        if a not in lay.axes:
            return lay
        if node.name not in self.rewritable_slices or node.attrs.step != 1:
            self.fixed_slices.append((node.inputs[0], a))
        pos = lay.axes.index(a)
        idx = range(*slice(node.attrs.start, node.attrs.end, node.attrs.step).indices(lay.ids.shape[pos]))
        return Layout(lay.axes, np.take(lay.ids, list(idx), axis=pos))

    def _op_permute(self, node: Node) -> Layout:
        lay, perm = self.L(node.inputs[0]), node.attrs.perm
        if not lay.tracked:
            return lay
        new_axes = sorted(perm.index(a) for a in lay.axes)
        order = [lay.axes.index(perm[n]) for n in new_axes]
        return Layout(tuple(new_axes), np.transpose(lay.ids, order))

    def _op_reshape(self, node: Node) -> Layout:
        src = self.g[node.inputs[0]]
        lay = self.L(src.name)
        if not lay.tracked:
            return lay
        old_axes, new_axes = [], []
        for oa, na in reshape_runs(src.shape, node.shape):
            if set(oa) & set(lay.axes):
                if not na:
                    self.block(lay)
                    return Layout.none()
                old_axes += oa
                new_axes += na
        ids = lay.over(tuple(old_axes), src.shape).reshape([node.shape[a] for a in new_axes])
        return Layout(tuple(new_axes), ids)

    def _op_expand(self, node: Node) -> Layout:
        src = self.g[node.inputs[0]]
        lay, off = self.L(src.name), len(node.shape) - len(src.shape)
        return Layout(tuple(a + off for a in lay.axes), lay.ids) if lay.tracked else lay

    def _op_pad(self, node: Node) -> Layout:
        lay = self.L(node.inputs[0])
        pads = node.attrs.pads
        if any(pads[2 * a] or pads[2 * a + 1] for a in lay.axes):
            self.block(lay)
            return Layout.none()
        return lay

    def _reduce(self, node: Node, axes: tuple[int, ...], keepdim: bool) -> Layout:
        lay = self.L(node.inputs[0])
        if set(axes) & set(lay.axes):
            self.block(lay)
            return Layout.none()
        if keepdim or not lay.tracked:
            return lay
        return Layout(tuple(a - sum(1 for r in axes if r < a) for a in lay.axes), lay.ids)

    def _op_mean(self, node: Node) -> Layout:
        return self._reduce(node, node.attrs.axes, node.attrs.keepdim)

    def _op_softmax(self, node: Node) -> Layout:
        return self._reduce(node, (node.attrs.axis,), True)

    def _op_matmul(self, node: Node) -> Layout:
        from aics.compress.prune.matmul import matmul_layout

        return matmul_layout(self, node)

