"""Turn a choice of classes into a plan, and a plan into a smaller model.

``plan_for`` records a removal as a ``PrunePlan``. ``pruned_graph`` computes the IR the pruned model
will have (shapes only), which is what MAC and latency budgets are measured on without touching
weights. ``apply_plan`` replays a plan on a model: it slices parameters, updates module fields
(in/out channels, groups, num_features, normalized_shape) and rewrites the shape constants of the
traced forward (reshape sizes, split sections), returning an ``fx.GraphModule`` with the original
module names, so state_dicts, hooks by name and distillation layers carry over.
"""

from __future__ import annotations

import copy
from typing import Mapping

import numpy as np
import torch
from torch import fx, nn

from aics.compress.prune.dependency import DependencyGraph
from aics.errors import PruneError
from aics.compress.prune.plan import AxisKeep, GroupPlan, PrunePlan
from aics.compress.prune.rewrite import rewrite_forward
from aics.ir import attrs as A
from aics.ir.graph import Graph, GraphBuilder, Node


def plan_for(dep: DependencyGraph, removed: set[int]) -> PrunePlan:
    """The plan removing the classes whose union-find roots are ``removed``."""
    groups = []
    for g in dep.groups:
        gone = {c for c in range(g.size) if dep.class_root[(g.index, c)] in removed}
        if not gone:
            continue
        axes = tuple(AxisKeep(m.param, m.axis, len(m.classes),
                              tuple(np.flatnonzero(~np.isin(m.classes, list(gone))).tolist())) for m in g.members)
        groups.append(GroupPlan(g.name, g.size, len(gone), axes))
    return PrunePlan(dep.input_shape, tuple(groups), dep.graph.inputs[0].dtype)


def removed_for_keeps(dep: DependencyGraph, keeps: Mapping[tuple[str, int], tuple[int, ...]],
                      sizes: Mapping[tuple[str, int], int] | None = None) -> set[int]:
    """The class roots a set of kept indices removes; a plan for another model raises PruneError."""
    index = {(p.const, p.axis): p.ids for p in dep.tracer.params}
    removed, kept = set(), set()
    for key, keep in keeps.items():
        if key not in index:
            raise PruneError(f"prune plan names {key[0]} axis {key[1]}, which this model does not have")
        ids = index[key]
        if sizes is not None and sizes.get(key, len(ids)) != len(ids):
            raise PruneError(f"prune plan expects {key[0]} axis {key[1]} of size {sizes[key]}, model has {len(ids)}")
        mask = np.zeros(len(ids), dtype=bool)
        if keep and (min(keep) < 0 or max(keep) >= len(ids)):
            raise PruneError(f"prune plan keeps indices outside {key[0]} axis {key[1]} (size {len(ids)})")
        mask[list(keep)] = True
        cls = dep.classes(ids)
        removed |= set(cls[~mask].tolist())
        kept |= set(cls[mask].tolist())
    if removed & kept:
        raise PruneError("prune plan does not match this model's channel dependencies")
    blocked = {dep.class_root[(g.index, c)] for g in dep.groups for c in np.flatnonzero(g.blocked)}
    if removed & blocked:
        raise PruneError("prune plan removes channels this model cannot lose (outputs, fixed slices)")
    return removed


def _new_shape(dep: DependencyGraph, node: Node, removed: np.ndarray) -> tuple[int, ...]:
    lay = dep.tracer.layouts.get(node.name)
    if lay is None or not lay.tracked:
        return node.shape
    mask = dep.kept(lay.ids, removed)
    shape = list(node.shape)
    per_axis = []
    for p, a in enumerate(lay.axes):
        along = mask.any(axis=tuple(q for q in range(mask.ndim) if q != p))
        per_axis.append(along)
        shape[a] = int(along.sum())
    outer = np.ones((), dtype=bool)
    for along in per_axis:
        outer = np.multiply.outer(outer, along)
    if not np.array_equal(outer, mask) or 0 in shape:
        raise PruneError(f"pruning leaves node '{node.name}' with an irregular or empty channel set")
    return tuple(shape)


def _kept_along(dep: DependencyGraph, name: str, axis: int, removed: np.ndarray) -> np.ndarray | None:
    lay = dep.tracer.layouts.get(name)
    if lay is None or axis not in lay.axes:
        return None
    mask = dep.kept(lay.ids, removed)
    p = lay.axes.index(axis)
    return np.flatnonzero(mask.any(axis=tuple(q for q in range(mask.ndim) if q != p)))


def _new_attrs(dep: DependencyGraph, node: Node, shape: tuple[int, ...], b: GraphBuilder, removed: np.ndarray) -> object:
    a = node.attrs
    if node.op == "conv2d" and a.groups > 1 and a.groups == dep.graph[node.inputs[0]].shape[1]:
        return A.Conv2dAttrs(a.stride, a.padding, a.dilation, b[node.inputs[0]].shape[1])
    if node.op in ("reshape", "expand"):
        return A.ShapeAttrs(shape)
    if node.op == "slice":
        kept = _kept_along(dep, node.inputs[0], a.axis, removed)
        if kept is not None:
            return A.SliceAttrs(a.axis, int((kept < a.start).sum()), int((kept < a.end).sum()), a.step)
    return a


def grouped_in_keeps(dep: DependencyGraph, removed: np.ndarray) -> dict[str, np.ndarray]:
    """Weight of a grouped (not depthwise) conv -> (groups, kept width) within-group input columns.

    Balanced classes (balance.py) make every group lose as many inputs, but not the same ones, so
    the columns each output group keeps differ; they are not a ParamAxis of the dependency graph."""
    out = {}
    for node in dep.graph.nodes:
        if node.op != "conv2d" or node.attrs.groups == 1:
            continue
        x, groups = dep.graph[node.inputs[0]], node.attrs.groups
        lay = dep.tracer.layouts.get(x.name)
        if x.shape[1] == groups or lay is None or lay.axes != (1,):
            continue
        mask = dep.kept(lay.ids, removed).reshape(groups, -1)
        counts = mask.sum(1)
        if np.any(counts != counts[0]) or counts[0] == 0:
            raise PruneError(f"pruning leaves the groups of '{node.name}' unequal or empty: {counts.tolist()}")
        if not mask.all():
            out[node.inputs[1]] = np.stack([np.flatnonzero(row) for row in mask])
    return out


def pruned_graph(dep: DependencyGraph, removed_roots: set[int]) -> Graph:
    """The IR of the pruned model (shapes and attributes; no weights), for counting and checks."""
    removed = dep.removed_mask(removed_roots)
    const_shapes: dict[str, list[int]] = {}
    for p in dep.tracer.params:
        shape = const_shapes.setdefault(p.const, list(dep.graph[p.const].shape))
        shape[p.axis] = int(dep.kept(p.ids, removed).sum())
    for name, cols in grouped_in_keeps(dep, removed).items():
        const_shapes.setdefault(name, list(dep.graph[name].shape))[1] = cols.shape[1]
    b = GraphBuilder(dep.graph.name)
    for node in dep.graph.nodes:
        if node.op == "input":
            b.input(node.name, node.shape, node.dtype)
        elif node.op == "const":
            b.const(node.name, tuple(const_shapes.get(node.name, node.shape)), node.dtype,
                    None, node.attrs.trainable, node.source)
        else:
            shape = _new_shape(dep, node, removed)
            b.op(node.op, node.inputs, _new_attrs(dep, node, shape, b, removed), node.name, node.source)
            if b[node.name].shape != shape:
                raise PruneError(f"pruned shape of node '{node.name}' is {b[node.name].shape}, expected {shape}")
    return b.build(dep.graph.outputs)


def param_keeps(dep: DependencyGraph, removed_roots: set[int]) -> dict[str, dict[int, np.ndarray]]:
    """param name -> axis -> kept indices, for every parameter axis that loses something."""
    removed = dep.removed_mask(removed_roots)
    out: dict[str, dict[int, np.ndarray]] = {}
    state = dep.gm.state_dict()
    for p in dep.tracer.params:
        mask = dep.kept(p.ids, removed)
        if p.const in state and not mask.all():
            out.setdefault(p.const, {})[p.axis] = np.flatnonzero(mask)
    return out


def _owner(gm: nn.Module, name: str) -> tuple[nn.Module, str]:
    path, _, attr = name.rpartition(".")
    return (gm.get_submodule(path) if path else gm), attr


def _slice_params(gm: nn.Module, keeps: Mapping[str, Mapping[int, np.ndarray]],
                  grouped: Mapping[str, np.ndarray]) -> None:
    for name in sorted(set(keeps) | set(grouped)):
        owner, attr = _owner(gm, name)
        t = getattr(owner, attr)
        data = t.detach()
        for axis, idx in keeps.get(name, {}).items():
            data = data.index_select(axis, torch.as_tensor(idx, dtype=torch.long))
        if name in grouped:  # rows are already cut to equal groups; each keeps its own columns
            cols = grouped[name]
            rows = data.shape[0] // len(cols)
            data = torch.cat([data[k * rows:(k + 1) * rows].index_select(1, torch.as_tensor(c, dtype=torch.long))
                              for k, c in enumerate(cols)])
        if isinstance(t, nn.Parameter):
            setattr(owner, attr, nn.Parameter(data.contiguous(), requires_grad=t.requires_grad))
        else:
            owner._buffers[attr] = data.contiguous()


def _update_modules(gm: nn.Module, ir: Graph) -> None:
    """Module fields that describe sizes follow the new tensors (Conv2d.in_channels, ...)."""
    for path, m in gm.named_modules():
        if not path or path not in ir:
            continue
        node = ir[path]
        x = ir[node.inputs[0]].shape if node.inputs else ()
        if isinstance(m, nn.Conv2d):
            m.in_channels, m.out_channels, m.groups = x[1], node.shape[1], node.attrs.groups
        elif isinstance(m, nn.ConvTranspose2d):
            m.in_channels, m.out_channels = x[1], node.shape[1]
        elif isinstance(m, nn.Linear):
            m.in_features, m.out_features = x[-1], node.shape[-1]
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.num_features = node.shape[1]
        elif isinstance(m, nn.LayerNorm):
            m.normalized_shape = tuple(node.shape[-len(m.normalized_shape):])
        elif isinstance(m, nn.PReLU):
            m.num_parameters = m.weight.numel()
        elif isinstance(m, nn.Embedding):
            m.embedding_dim = node.shape[-1]


def apply_removal(model: nn.Module, dep: DependencyGraph, removed: set[int], verify: bool = True) -> fx.GraphModule:
    """The pruned model; ``dep`` must have been built on ``model`` and is consumed (its fx module
    is edited), so build a fresh one for the next step."""
    new_ir = pruned_graph(dep, removed)
    gm = dep.gm
    _slice_params(gm, param_keeps(dep, removed), grouped_in_keeps(dep, dep.removed_mask(removed)))
    _update_modules(gm, new_ir)
    rewrite_forward(gm, dep.graph, new_ir, dep.fxmap)
    out = fx.GraphModule(gm, gm.graph, class_name=type(model).__name__)
    out.train(model.training)
    if verify:
        _verify(out, new_ir, dep)
    return out


def apply_plan(model: nn.Module, plan: PrunePlan, verify: bool = True) -> fx.GraphModule:
    """Replay ``plan`` on a copy of ``model`` (left untouched) and return the pruned model."""
    work = copy.deepcopy(model)
    dep = DependencyGraph.build(work, plan.input_shape, plan.input_dtype)
    removed = removed_for_keeps(dep, plan.keeps(), plan.sizes())
    return apply_removal(work, dep, removed, verify)


def _verify(model: nn.Module, expected: Graph, dep: DependencyGraph) -> None:
    from aics.analysis.analyze import analyze
    from aics.ir.torch_import import import_module

    got = import_module(model, dep.input_shape, expected.inputs[0].dtype)
    shapes = [got[o].shape for o in got.outputs]
    if shapes != [expected[o].shape for o in expected.outputs] or \
            analyze(got).total.macs != analyze(expected).total.macs:
        raise PruneError("the pruned model does not trace to the planned shapes (unsupported pattern)")
