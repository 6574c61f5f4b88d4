"""The reference executor: runs an IR graph node by node in float32 or integer numerics.

``Executor(graph, numerics)`` prepares every node once (constants materialised, LUTs and
multipliers built) and then ``run(inputs)`` / ``run_all(inputs)`` evaluate it. ``numerics="int"``
follows ``Graph.quant`` (see ``aics.reference.int_ops`` for the per-op integer recipes): graph
inputs given as floats are quantized with their ``QuantParams`` (round half to even), results are
integer codes (``dequantize`` turns them back into reals), tensors annotated ``float32`` stay float.
"""

from __future__ import annotations

from typing import Callable, Literal, Mapping

import numpy as np

from aics.errors import DataError, QuantizationError
from aics.ir.graph import Graph, Node
from aics.ir.quant import QuantParams
from aics.reference import qtensor as Q
from aics.reference.float_ops import run_float
from aics.reference.int_ops import build_int_node

Numerics = Literal["float32", "int"]
Inputs = Mapping[str, np.ndarray] | np.ndarray
NodeFn = Callable[[list[np.ndarray]], np.ndarray]


class Executor:
    """A graph prepared for repeated evaluation in one numerics."""

    def __init__(self, graph: Graph, numerics: Numerics = "float32") -> None:
        if numerics not in ("float32", "int"):
            raise QuantizationError(f"numerics must be 'float32' or 'int', got {numerics!r}")
        if not graph.has_weights:
            missing = next(n.name for n in graph.nodes if n.op == "const" and n.name not in graph.params)
            raise DataError(f"graph '{graph.name}' has no data for const '{missing}' (import it with weights)")
        self.graph = graph
        self.numerics = numerics
        self._consts: dict[str, np.ndarray] = {}
        self._fns: dict[str, NodeFn] = {}
        self.modes: dict[str, str] = {}  # node -> "float", "int" or "fixed" (how it computes)
        self._readers = {n.name: 0 for n in graph.nodes}  # how many nodes read each tensor
        for n in graph.nodes:
            for i in n.inputs:
                self._readers[i] += 1
        view = Q.QuantView(graph) if numerics == "int" else None
        for node in graph.nodes:
            if node.op == "const":
                self._consts[node.name] = view.const(node.name) if view else Q.float_const(graph, node.name)
            elif node.op != "input":
                if view is None:
                    self._fns[node.name], self.modes[node.name] = _float_fn(node), "float"
                else:
                    self._fns[node.name], self.modes[node.name] = build_int_node(node, view)

    def run(self, inputs: Inputs) -> list[np.ndarray]:
        """The graph's outputs, in ``graph.outputs`` order (codes for integer tensors)."""
        env = self._evaluate(inputs, keep_all=False)
        return [env[o] for o in self.graph.outputs]

    def run_all(self, inputs: Inputs) -> dict[str, np.ndarray]:
        """Every tensor of the graph by node name (inputs and consts included; the consts are the
        executor's own arrays, to be read, not modified)."""
        return self._evaluate(inputs, keep_all=True)

    def _evaluate(self, inputs: Inputs, keep_all: bool) -> dict[str, np.ndarray]:
        env: dict[str, np.ndarray] = dict(self._consts)
        env.update(self._inputs(inputs))
        remaining = dict(self._readers)
        keep = set(self.graph.outputs)
        for node in self.graph.nodes:
            if node.name in self._fns:
                env[node.name] = self._fns[node.name]([env[i] for i in node.inputs])
                if not keep_all:
                    for i in node.inputs:  # free tensors that no later node reads
                        remaining[i] -= 1
                        if remaining[i] == 0 and i not in keep:
                            env.pop(i, None)
        return env

    def _inputs(self, inputs: Inputs) -> dict[str, np.ndarray]:
        nodes = self.graph.inputs
        if isinstance(inputs, np.ndarray):
            if len(nodes) != 1:
                raise DataError(f"graph '{self.graph.name}' has {len(nodes)} inputs "
                                f"({', '.join(n.name for n in nodes)}): pass a dict")
            inputs = {nodes[0].name: inputs}
        unknown = set(inputs) - {n.name for n in nodes}
        if unknown:
            raise DataError(f"unknown graph input(s) {sorted(unknown)}; inputs are {[n.name for n in nodes]}")
        out = {}
        for node in nodes:
            if node.name not in inputs:
                raise DataError(f"missing graph input '{node.name}' ({node.dtype}{list(node.shape)})")
            qp = self.graph.quant.get(node.name) if self.numerics == "int" else None
            out[node.name] = check_input(node, np.asarray(inputs[node.name]), qp)
        return out


def _float_fn(node: Node) -> NodeFn:
    return lambda xs: run_float(node.op, node.attrs, xs)


def check_input(node: Node, x: np.ndarray, qp: QuantParams | None) -> np.ndarray:
    """Validate one graph input and convert it to what the executor computes on.

    Float inputs must be finite floats of the node's shape; in integer numerics they are
    quantized with ``qp`` unless given as codes already (an integer array of the code dtype).
    Integer inputs (token ids) must be integers."""
    where = f"input '{node.name}'"
    if tuple(x.shape) != node.shape:
        raise DataError(f"{where}: expected shape {list(node.shape)}, got {list(x.shape)}")
    if node.dtype.startswith(("int", "uint")):
        if x.dtype.kind not in "iu":
            raise DataError(f"{where}: expected integer ids ({node.dtype}), got {x.dtype}")
        return x.astype(np.int64)
    if qp is not None and not Q.is_integer(qp):
        qp = None
    if qp is not None and x.dtype == Q.code_dtype(qp):
        return Q.check_codes(x, qp, where)
    if x.dtype.kind != "f":
        raise DataError(f"{where}: expected floating-point data, got {x.dtype}")
    if not np.all(np.isfinite(x)):
        bad = "NaN" if np.isnan(x).any() else "Inf"
        raise DataError(f"{where}: contains {bad} values")
    x32 = x.astype(np.float32)
    return x32 if qp is None else Q.quantize(x32, qp)


def run(graph: Graph, inputs: Inputs, numerics: Numerics = "float32") -> list[np.ndarray]:
    """Evaluate ``graph`` once: its outputs in order (integer codes where ``numerics="int"``)."""
    return Executor(graph, numerics).run(inputs)


def run_all(graph: Graph, inputs: Inputs, numerics: Numerics = "float32") -> dict[str, np.ndarray]:
    """Evaluate ``graph`` once and return every tensor by node name."""
    return Executor(graph, numerics).run_all(inputs)


def dequantize(graph: Graph, name: str, values: np.ndarray) -> np.ndarray:
    """The real values (float32) of tensor ``name`` as the integer executor returned it."""
    return Q.to_real(values, Q.QuantView(graph).qp(name))
