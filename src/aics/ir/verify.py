"""The IR verifier, run between passes (always in tests): every invariant a pass must keep."""

from __future__ import annotations

from aics.errors import ShapeError
from aics.ir.graph import Graph, infer_node
from aics.ir.ops import OPS


class VerifyError(AssertionError):
    """A graph that breaks an IR invariant: a bug in a pass or importer, not a user error."""


def verify(graph: Graph) -> Graph:
    """Check names unique, inputs defined earlier, ops known, attrs typed, shapes re-inferable,
    outputs present and constants' data shaped like their nodes. Returns the graph unchanged."""
    seen: dict[str, tuple[tuple[int, ...], str]] = {}
    for node in graph.nodes:
        if node.name in seen:
            raise VerifyError(f"duplicate node name '{node.name}'")
        spec = OPS.get(node.op)
        if spec is None:
            raise VerifyError(f"node '{node.name}' has unknown op '{node.op}'")
        if not isinstance(node.attrs, spec.attrs):
            raise VerifyError(f"node '{node.name}': attrs {type(node.attrs).__name__} != {spec.attrs.__name__}")
        missing = [i for i in node.inputs if i not in seen]
        if missing:
            raise VerifyError(f"node '{node.name}' reads {missing} before they are defined")
        if spec.infer is not None:
            try:
                shape, dtype = infer_node(node.op, node.attrs, [seen[i][0] for i in node.inputs],
                                          [seen[i][1] for i in node.inputs], node.name)
            except ShapeError as err:
                raise VerifyError(str(err)) from None
            if (shape, dtype) != (node.shape, node.dtype):
                raise VerifyError(f"node '{node.name}': stored {node.dtype}{list(node.shape)} but inferred "
                                  f"{dtype}{list(shape)}")
        elif node.inputs:
            raise VerifyError(f"{node.op} node '{node.name}' must have no inputs")
        seen[node.name] = (node.shape, node.dtype)
    for out in graph.outputs:
        if out not in seen:
            raise VerifyError(f"graph output '{out}' is not a node")
    for name, arr in graph.params.items():
        if name not in seen:
            raise VerifyError(f"param '{name}' has no const node")
        if tuple(arr.shape) != seen[name][0]:
            raise VerifyError(f"param '{name}' has shape {list(arr.shape)}, node says {list(seen[name][0])}")
    for name in graph.quant:
        if name not in seen:
            raise VerifyError(f"quant params for '{name}', which is not a node")
    return graph
