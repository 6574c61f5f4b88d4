"""Operator fusion over a quantized graph: conv/linear + bias + requantize + activation clamp.

Representation. The fused op is *not* a new IR op: the IR stays the contract the reference
executor evaluates, and a fused conv would need the executor to learn a second conv recipe. The
pass returns instead a ``FusionPlan``: for each anchor (a conv2d or linear node computing in
int mode), the activation nodes its epilogue absorbs and the node whose tensor the fused layer
finally writes. The lowering emits one ``conv``/``matmul`` tile + one ``requant`` per tile, with
the bias, the per-channel multipliers and the clamp of the absorbed activation in that one
vector instruction, and never materialises the intermediate tensor in DRAM.

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
    output: str  # the node whose tensor the fused layer writes
    qmin: int  # the clamp of the fused activation(s), in output codes
    qmax: int


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
    return plan
