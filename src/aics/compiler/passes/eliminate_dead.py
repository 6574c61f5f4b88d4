"""Remove nodes no graph output depends on (and constants and params only they used)."""

from __future__ import annotations

from aics.ir.graph import Graph


def eliminate_dead(graph: Graph) -> Graph:
    """Keep exactly the nodes reachable backwards from the outputs; graph inputs always stay
    (they are the program's interface even when unused)."""
    live: set[str] = set(graph.outputs)
    for node in reversed(graph.nodes):
        if node.name in live:
            live.update(node.inputs)
    nodes = tuple(n for n in graph.nodes if n.name in live or n.op == "input")
    names = {n.name for n in nodes}
    params = {k: v for k, v in graph.params.items() if k in names}
    quant = {k: v for k, v in graph.quant.items() if k in names}
    return graph.with_nodes(nodes, params=params, quant=quant)
