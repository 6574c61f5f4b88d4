"""Evaluate nodes whose inputs are all constants (with data) once, at compile time.

Such subgraphs come from importers and user code: a weight transposed in ``forward``, a class
token expanded to the batch, scalar arithmetic. Each is replaced by a ``const`` node holding the
float32 result computed by the reference executor; the constant is a parameter only if one of
its inputs was (a transposed weight stays a weight). Only float graphs are folded: in a quantized
graph the constants' codes are fixed by their annotations.
"""

from __future__ import annotations

import numpy as np

from aics.ir import attrs as A
from aics.ir.graph import Graph, Node
from aics.reference.float_ops import run_float


def fold_constants(graph: Graph) -> Graph:
    if graph.quant or not graph.has_weights:
        return graph
    params = dict(graph.params)
    consts = {n.name for n in graph.nodes if n.op == "const"}
    trainable = {n.name for n in graph.nodes if n.op == "const" and n.attrs.trainable}
    nodes: list[Node] = []
    for node in graph.nodes:
        if node.op not in ("const", "input") and node.inputs and all(i in consts for i in node.inputs):
            value = run_float(node.op, node.attrs, [params[i] for i in node.inputs])
            keep = any(i in trainable for i in node.inputs)
            node = Node(node.name, "const", (), A.ConstAttrs(keep), tuple(value.shape), str(value.dtype),
                        node.source)
            params[node.name] = np.asarray(value)
            consts.add(node.name)
            if keep:
                trainable.add(node.name)
        nodes.append(node)
    return graph.with_nodes(tuple(nodes), params=params)
