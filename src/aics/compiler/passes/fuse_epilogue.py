"""Operator fusion over a quantized graph: conv/linear + bias + requantize + activation clamp.

Representation. The fused op is *not* a new IR op: the IR stays the contract the reference
executor evaluates, and a fused conv would need the executor to learn a second conv recipe. The
pass returns instead a ``FusionPlan``: for each anchor (a conv2d or linear node computing in
int mode), the activation nodes its epilogue absorbs and the node whose tensor the fused layer
finally writes. The lowering emits one ``conv``/``matmul`` tile + one ``requant`` per tile, with
the bias, the per-channel multipliers and the clamp of the absorbed activation in that one
vector instruction, and never materialises the intermediate tensor in DRAM.

Residual adds. ``add(a, b)`` where ``a`` is a conv epilogue's result read only by the add and ``b``
is computed before that conv (ResNet's shortcut) joins the conv's epilogue: per tile, after the
requantize, TFLite ADD (``rescale`` both operands, ``eltwise`` add, ``rescale`` with the add's clamp
and that of an exact activation after it) runs on the vector unit, and ``a`` never reaches DRAM.

Which activations fuse. An activation with the same input and output quantisation is, in the
integer reference, a lookup table over the codes (``numerics.lut``). When that table is exactly
``clip(q, a, b)`` (relu: ``a = zp``; relu6 and clip: both ends), the requantize instruction's
``qmin``/``qmax`` clamp computes it: the pass checks the table itself, so the fusion is bit-exact
by construction and never relies on reasoning about float rounding. The anchor's output must have
no other reader. Other activations stay separate layers (a ``lut`` instruction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aics.ir.graph import Graph
from aics.numerics import lut as L
from aics.reference import qtensor as Q
from aics.reference.functions import UNARY
from aics.reference.int_ops import compute_mode

ANCHORS = frozenset({"conv2d", "linear"})


@dataclass(frozen=True)
class Epilogue:
    anchor: str  # the conv2d / linear node
    absorbed: tuple[str, ...]  # activation nodes computed by the requant clamp
    output: str  # the tensor of the requantized (and clamped) conv result
    qmin: int  # the clamp of the fused activation(s), in output codes
    qmax: int
    add: str = ""  # a fused residual add reading ``output`` (and ``residual``), or ""
    residual: str = ""  # the add's other operand, computed before the anchor
    final: str = ""  # the tensor the fused layer writes: ``output``, or the add (+ activation)
    add_qmin: int = 0  # the clamp of the add's result (its range and a fused activation)
    add_qmax: int = 0

    @property
    def writes(self) -> str:
        return self.final or self.output


FusionPlan = dict[str, Epilogue]  # anchor name -> its epilogue


def clamp_of(view: Q.QuantView, name: str) -> tuple[int, int] | None:
    """The (a, b) such that activation node ``name`` is exactly ``clip(q, a, b)`` on its codes, or None."""
    node = view.graph[name]
    if node.op not in UNARY or compute_mode(node, view) != "int":
        return None
    in_qp, out_qp = view.qp(node.inputs[0]), view.qp(name)
    if in_qp is None or in_qp != out_qp or in_qp.per_channel:
        return None
    rep = Q.rep(in_qp)
    table = L.build_lut(lambda v: UNARY[node.op](v, node.attrs), rep, rep)
    lo, hi = Q.code_range(in_qp)
    codes = np.arange(lo, hi + 1, dtype=np.int64)
    a, b = int(table.min()), int(table.max())
    return (a, b) if np.array_equal(table, np.clip(codes, a, b)) else None


def plan_epilogues(graph: Graph) -> FusionPlan:
    """The epilogue of every int-mode conv2d/linear of ``graph`` (activations fused where exact)."""
    view = Q.QuantView(graph)
    users = graph.users()
    outputs = set(graph.outputs)
    plan: FusionPlan = {}
    for node in graph.nodes:
        if node.op not in ANCHORS or compute_mode(node, view) != "int":
            continue
        out_qp = view.qp(node.name)
        assert out_qp is not None
        qmin, qmax = Q.code_range(out_qp)
        absorbed: list[str] = []
        current = node.name
        while len(users[current]) == 1 and current not in outputs:
            nxt = users[current][0]
            clamp = clamp_of(view, nxt)
            if clamp is None:
                break
            qmin, qmax = max(qmin, clamp[0]), min(qmax, clamp[1])
            absorbed.append(nxt)
            current = nxt
        plan[node.name] = Epilogue(node.name, tuple(absorbed), current, qmin, qmax)
    return _fuse_residual_adds(graph, view, plan, users)


def _fuse_residual_adds(graph: Graph, view: Q.QuantView, plan: FusionPlan, users: dict[str, list[str]]) -> FusionPlan:
    """Fold ``add(conv_epilogue, earlier_tensor)`` (+ an exact clamp after it) into the conv epilogue.

    The anchor is the conv whose result the add reads and that comes *later* in the graph, so the
    other operand (the residual) is in DRAM when the conv runs; TFLite ADD then happens per tile
    on the vector unit, and the conv's own result never goes to DRAM."""
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    by_output = {epi.output: epi for epi in plan.values() if graph[epi.anchor].op == "conv2d"}
    outputs = set(graph.outputs)
    for node in graph.nodes:
        if node.op != "add" or compute_mode(node, view) != "int" or len(set(node.inputs)) != 2:
            continue
        if any(view.qp(n) is None or view.qp(n).dtype != "int8" for n in (*node.inputs, node.name)):
            continue
        cands = [i for i in node.inputs if i in by_output and users[i] == [node.name] and i not in outputs
                 and graph[i].shape == node.shape]
        if not cands:
            continue
        mine = max(cands, key=lambda i: index[by_output[i].anchor])
        epi = by_output[mine]
        other = node.inputs[1] if node.inputs[0] == mine else node.inputs[0]
        if index[other] > index[epi.anchor] or graph[other].shape != node.shape:
            continue
        lo, hi = Q.code_range(view.qp(node.name))
        final = node.name
        absorbed = [node.name]
        if len(users[final]) == 1 and final not in outputs:
            clamp = clamp_of(view, users[final][0])
            if clamp is not None:
                final = users[final][0]
                absorbed.append(final)
                lo, hi = max(lo, clamp[0]), min(hi, clamp[1])
        plan[epi.anchor] = Epilogue(epi.anchor, epi.absorbed + tuple(absorbed), epi.output, epi.qmin, epi.qmax,
                                    node.name, other, final, lo, hi)
        del by_output[mine]
    return plan
