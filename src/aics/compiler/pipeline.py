"""The graph pipeline: the passes, in order, with the IR verifier run after each one.

Every pass is a pure function ``Graph -> Graph`` in its own file under ``passes/``. ``optimize``
records what each pass did (node counts), the way hls4ml records its applied flows, so a report
can show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from aics.compiler.passes.eliminate_dead import eliminate_dead
from aics.compiler.passes.fold_bn import fold_bn
from aics.compiler.passes.fold_constants import fold_constants
from aics.ir.graph import Graph
from aics.ir.verify import verify

Pass = Callable[[Graph], Graph]

# Order matters: constants fold before BN folding sees conv weights, dead nodes go last.
FLOAT_PIPELINE: tuple[Pass, ...] = (fold_constants, fold_bn, eliminate_dead)
# On a quantized graph (before lowering): BN is already folded by the quantizer. Operator fusion
# (``passes.fuse_epilogue.plan_epilogues``) runs after these: it returns a plan of fused
# conv/linear/add epilogues for the lowering, not a new graph (see its docstring for why).
QUANT_PIPELINE: tuple[Pass, ...] = (eliminate_dead,)


@dataclass(frozen=True)
class PassRecord:
    name: str
    nodes_before: int
    nodes_after: int


def optimize(graph: Graph, passes: Sequence[Pass] = FLOAT_PIPELINE, check: bool = True
             ) -> tuple[Graph, tuple[PassRecord, ...]]:
    """Run ``passes`` in order; with ``check`` the verifier runs before the first and after each."""
    if check:
        verify(graph)
    records = []
    for p in passes:
        before = len(graph.nodes)
        graph = p(graph)
        if check:
            verify(graph)
        records.append(PassRecord(p.__name__, before, len(graph.nodes)))
    return graph, tuple(records)
