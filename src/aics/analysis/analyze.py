"""Per-layer and total counts of a graph: the analyzer behind ``aics summary``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

import numpy as np

from aics.analysis.counts import Counts
from aics.analysis.rules import RULES
from aics.ir.graph import Graph, Node
from aics.ir.ops import OPS


def dtype_bytes(dtype: str) -> int:
    return 1 if dtype == "bool" else np.dtype(dtype).itemsize


def _bytes(node: Node) -> int:
    return node.numel * dtype_bytes(node.dtype)


@dataclass(frozen=True)
class LayerCounts:
    name: str
    op: str
    output_shape: tuple[int, ...]
    counts: Counts
    source: str = ""


@dataclass(frozen=True)
class Analysis:
    model: str
    input_shapes: tuple[tuple[int, ...], ...]
    layers: tuple[LayerCounts, ...]
    total: Counts


def _neurons(node: Node) -> int:
    """Output elements of weighted layers; a stacked RNN counts every layer's outputs."""
    if not OPS[node.op].weighted:
        return 0
    return node.numel * (node.attrs.num_layers if node.op in ("lstm", "gru") else 1)


def analyze(graph: Graph) -> Analysis:
    """Count every non-input, non-const node. A constant read by several layers (tied weights)
    is counted in the params of the first one only."""
    seen_consts: set[str] = set()
    layers = []
    for node in graph.nodes:
        if node.op in ("input", "const"):
            continue
        ins = [graph[i] for i in node.inputs]
        consts = [i for i in ins if i.op == "const"]
        new = [c for c in consts if c.name not in seen_consts]
        seen_consts.update(c.name for c in new)
        macs, mults, adds, other = RULES[node.op](node, ins) if node.op in RULES else (0, 0, 0, 0)
        counts = Counts(
            params=sum(c.numel for c in new if c.attrs.trainable),
            macs=macs, mults=mults, adds=adds, other=other,
            neurons=_neurons(node),
            in_bytes=sum(_bytes(i) for i in ins if i.op != "const"),
            out_bytes=_bytes(node),
            weight_bytes=sum(_bytes(c) for c in new),
        )
        layers.append(LayerCounts(node.name, node.op, node.shape, counts, node.source))
    total = reduce(lambda a, b: a + b, (lc.counts for lc in layers), Counts())
    return Analysis(graph.name, tuple(n.shape for n in graph.inputs), tuple(layers), total)
