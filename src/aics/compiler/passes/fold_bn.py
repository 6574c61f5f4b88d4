"""Fold inference-mode batch norm into the conv / linear layer that feeds it.

``y = gamma * (conv(x, w) + b - mean) / sqrt(var + eps) + beta`` is ``conv(x, w * s) + (b - mean) * s
+ beta`` with ``s = gamma / sqrt(var + eps)`` per output channel. Quantizers need this first: the
weights they quantize per channel are the folded ones, which is what integer hardware multiplies.

A batch_norm folds when its input is a conv2d, a conv_transpose2d with groups=1, or a 2-D linear,
that nothing else reads and that is not a graph output, and when every tensor involved is a
constant with data. The folded layer keeps its own name; readers of the batch_norm read it
instead. Weight and bias constants used only by that layer keep their names (new data), so names
still match the PyTorch state_dict; shared ones are copied under a new name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aics.ir import attrs as A
from aics.ir.graph import Graph, Node

_FOLDABLE = ("conv2d", "conv_transpose2d", "linear")


@dataclass(frozen=True)
class _Fold:
    layer: Node  # the conv/linear with its new inputs
    new_consts: tuple[Node, ...]  # consts to insert before it (copies of shared ones, a new bias)


def fold_bn(graph: Graph) -> Graph:
    """A new graph with every foldable batch_norm folded into its producer (see module docstring)."""
    users = graph.users()
    params = dict(graph.params)
    folds: dict[str, _Fold] = {}
    rename: dict[str, str] = {}  # batch_norm name -> layer name
    taken = {n.name for n in graph.nodes}
    for bn in graph.nodes:
        layer = graph[bn.inputs[0]] if bn.op == "batch_norm" else None
        if layer is None or not _foldable(graph, layer, bn, users):
            continue
        fold = _fold_one(graph, layer, bn, users, params, taken)
        folds[layer.name] = fold
        rename[bn.name] = layer.name
    if not folds:
        return graph
    nodes: list[Node] = []
    for n in graph.nodes:
        if n.name in rename:
            continue
        if n.name in folds:
            nodes.extend(folds[n.name].new_consts)
            n = folds[n.name].layer
        nodes.append(Node(n.name, n.op, tuple(rename.get(i, i) for i in n.inputs), n.attrs, n.shape, n.dtype,
                          n.source))
    read = {i for n in nodes for i in n.inputs}
    nodes = [n for n in nodes if n.op != "const" or n.name in read or n.name in graph.outputs]
    kept = {n.name for n in nodes}
    outputs = tuple(rename.get(o, o) for o in graph.outputs)
    return graph.with_nodes(tuple(nodes), outputs, {k: v for k, v in params.items() if k in kept},
                            {k: q for k, q in graph.quant.items() if k in kept})


def _foldable(graph: Graph, layer: Node, bn: Node, users: dict[str, list[str]]) -> bool:
    if layer.op not in _FOLDABLE or users[layer.name] != [bn.name] or layer.name in graph.outputs:
        return False
    if layer.op == "linear" and len(layer.shape) != 2:
        return False  # BatchNorm1d on (N, T, F) normalises axis 1, not the linear's features
    if layer.op == "conv_transpose2d" and layer.attrs.groups != 1:
        return False
    consts = list(bn.inputs[1:]) + list(layer.inputs[1:])
    return all(graph[c].op == "const" and c in graph.params for c in consts)


def _fold_one(graph: Graph, layer: Node, bn: Node, users: dict[str, list[str]],
              params: dict[str, np.ndarray], taken: set[str]) -> _Fold:
    gamma, beta, mean, var = (np.asarray(graph.params[i], dtype=np.float64) for i in bn.inputs[1:])
    assert isinstance(bn.attrs, A.NormAttrs)
    scale = gamma / np.sqrt(var + bn.attrs.eps)
    w_node = graph[layer.inputs[1]]
    w = np.asarray(graph.params[w_node.name], dtype=np.float64)
    axis = 1 if layer.op == "conv_transpose2d" else 0
    shape = [1] * w.ndim
    shape[axis] = -1
    new_w = (w * scale.reshape(shape)).astype(graph.params[w_node.name].dtype)
    old_b = np.asarray(graph.params[layer.inputs[2]], dtype=np.float64) if len(layer.inputs) > 2 else 0.0
    new_b = ((old_b - mean) * scale + beta).astype(np.float32)

    new_consts: list[Node] = []

    def place(node: Node | None, base: str, data: np.ndarray) -> str:
        """Reuse ``node``'s name when only this layer reads it; else a fresh const."""
        if node is not None and users[node.name] == [layer.name]:
            params[node.name] = data
            return node.name
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        new_consts.append(Node(name, "const", (), A.ConstAttrs(True), tuple(data.shape), "float32",
                               node.source if node is not None else layer.source))
        params[name] = data
        return name

    w_name = place(w_node, f"{layer.name}.weight_folded", new_w)
    b_node = graph[layer.inputs[2]] if len(layer.inputs) > 2 else None
    b_name = place(b_node, f"{layer.name}.bias", new_b)
    new_layer = Node(layer.name, layer.op, (layer.inputs[0], w_name, b_name), layer.attrs, layer.shape,
                     layer.dtype, layer.source)
    return _Fold(new_layer, tuple(new_consts))
