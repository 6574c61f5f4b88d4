"""The graph IR: one node type, a topologically ordered tuple of nodes, constants kept aside.

A ``Node`` names its op (a key of ``aics.ir.ops.OPS``), its inputs (names of earlier nodes), its
typed attributes, and its output shape and dtype. Weights are ``const`` nodes whose data live in
``Graph.params`` (absent when a model was imported from meta tensors, e.g. for counting only).
Graphs are immutable values: passes build new ones (``GraphBuilder`` helps).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import numpy as np

from aics.errors import ShapeError, UnsupportedOpError
from aics.ir.ops import OPS

if TYPE_CHECKING:
    from aics.ir.quant import QuantParams


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: Any
    shape: tuple[int, ...]
    dtype: str
    source: str = ""  # where it came from: module path, ONNX node name, file:line

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass(frozen=True)
class Graph:
    name: str
    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]
    params: Mapping[str, np.ndarray] = field(default_factory=dict)
    # Integer representation of tensors by node name (see ``aics.ir.quant``); empty for float graphs.
    quant: Mapping[str, "QuantParams"] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {n.name: n for n in self.nodes})

    def __getitem__(self, name: str) -> Node:
        return self._index[name]  # type: ignore[attr-defined]

    def __contains__(self, name: str) -> bool:
        return name in self._index  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    @property
    def inputs(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.op == "input")

    @property
    def has_weights(self) -> bool:
        consts = [n.name for n in self.nodes if n.op == "const"]
        return all(name in self.params for name in consts)

    def users(self) -> dict[str, list[str]]:
        """For each node, the names of the nodes that read it."""
        out: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                out[i].append(n.name)
        return out

    def with_nodes(self, nodes: tuple[Node, ...], outputs: tuple[str, ...] | None = None,
                   params: Mapping[str, np.ndarray] | None = None,
                   quant: Mapping[str, "QuantParams"] | None = None) -> "Graph":
        return replace(self, nodes=nodes, outputs=self.outputs if outputs is None else outputs,
                       params=self.params if params is None else params,
                       quant=self.quant if quant is None else quant)


def infer_node(op: str, attrs: Any, in_shapes: list[tuple[int, ...]], in_dtypes: list[str],
               name: str, source: str = "") -> tuple[tuple[int, ...], str]:
    """Output shape and dtype of ``op``; errors name the node and its source."""
    spec = OPS.get(op)
    where = f"node '{name}'" + (f" ({source})" if source else "")
    if spec is None:
        raise UnsupportedOpError(f"unsupported op '{op}' at {where}")
    if not isinstance(attrs, spec.attrs):
        raise TypeError(f"{op} at {where}: attrs must be {spec.attrs.__name__}, got {type(attrs).__name__}")
    n = len(in_shapes)
    if n < spec.min_inputs or (spec.max_inputs is not None and n > spec.max_inputs):
        raise ShapeError(f"{op} at {where}: wrong number of inputs ({n})")
    assert spec.infer is not None
    try:
        shape, dtype = spec.infer(attrs, in_shapes, in_dtypes)
    except ShapeError as err:
        raise ShapeError(f"{op} at {where}: {err}") from None
    return tuple(int(d) for d in shape), dtype


class GraphBuilder:
    """Appends nodes with shape inference and unique names; ``build()`` returns the Graph."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: list[Node] = []
        self.params: dict[str, np.ndarray] = {}
        self._by_name: dict[str, Node] = {}

    def unique(self, base: str) -> str:
        base = base or "node"
        name, k = base, 1
        while name in self._by_name:
            name, k = f"{base}_{k}", k + 1
        return name

    def __getitem__(self, name: str) -> Node:
        return self._by_name[name]

    def add_node(self, node: Node) -> str:
        if node.name in self._by_name:
            raise ValueError(f"duplicate node name {node.name!r}")
        self.nodes.append(node)
        self._by_name[node.name] = node
        return node.name

    def input(self, name: str, shape: tuple[int, ...], dtype: str = "float32") -> str:
        from aics.ir.attrs import NoAttrs

        return self.add_node(Node(self.unique(name), "input", (), NoAttrs(), tuple(shape), dtype))

    def const(self, name: str, shape: tuple[int, ...], dtype: str = "float32",
              data: np.ndarray | None = None, trainable: bool = True, source: str = "") -> str:
        from aics.ir.attrs import ConstAttrs

        node = Node(self.unique(name), "const", (), ConstAttrs(trainable), tuple(int(d) for d in shape),
                    dtype, source)
        if data is not None:
            self.params[node.name] = np.asarray(data).reshape(node.shape)
        return self.add_node(node)

    def op(self, op: str, inputs: list[str] | tuple[str, ...], attrs: Any, name: str,
           source: str = "") -> str:
        ins = [self._by_name[i] for i in inputs]
        name = self.unique(name)
        shape, dtype = infer_node(op, attrs, [i.shape for i in ins], [i.dtype for i in ins], name, source)
        # plain str: importers pass str subclasses, which must not leak into (and pickle with) the IR
        return self.add_node(Node(name, op, tuple(map(str, inputs)), attrs, shape, dtype, source))

    def build(self, outputs: list[str] | tuple[str, ...]) -> Graph:
        return Graph(self.name, tuple(self.nodes), tuple(map(str, outputs)), dict(self.params))
