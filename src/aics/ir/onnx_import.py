"""Import an ONNX model into the graph IR.

Shape computations (Shape, Gather on shapes, Concat of constants, Cast of constants...) fold to
numpy values during import, so only real tensor ops become nodes. ``MatMul`` with a constant
right operand becomes ``linear`` (its MACs, params and neurons then equal the PyTorch import's).
Initializers are parameters except in buffer roles (BN statistics); ``Constant`` outputs are not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnx
from onnx import numpy_helper

from aics.errors import ModelError, UnsupportedOpError
from aics.ir import attrs as A
from aics.ir.graph import Graph, GraphBuilder

_ONNX_DTYPES = {1: "float32", 10: "float16", 7: "int64", 6: "int32", 3: "int8", 2: "uint8", 9: "bool"}


class _Const:
    """A folded value: numpy data that becomes a const node only where an op needs a tensor."""

    def __init__(self, value: np.ndarray, initializer: bool) -> None:
        self.value, self.initializer = value, initializer


class Unavailable(str):
    """An output the IR does not represent (an RNN's final state); using it is unsupported."""


class OnnxImporter:
    def __init__(self, model: onnx.ModelProto, name: str) -> None:
        self.model = model
        self.b = GraphBuilder(name)
        self.env: dict[str, Any] = {}
        self.node: onnx.NodeProto | None = None
        self._const_nodes: dict[tuple[int, bool], str] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in model.graph.node:
            for i in node.input:
                self.consumers.setdefault(i, []).append(node)
        self.absorbed: set[int] = set()  # ids of Add nodes folded into the linear before them

    # -- helpers ---------------------------------------------------------------------------
    def attr(self, name: str, default: Any = None) -> Any:
        assert self.node is not None
        for a in self.node.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default

    def where(self) -> str:
        assert self.node is not None
        return f"node '{self.node.name or self.node.output[0]}' (ONNX {self.node.op_type})"

    def unsupported(self, what: str) -> UnsupportedOpError:
        return UnsupportedOpError(f"unsupported op '{what}' at {self.where()}")

    def value(self, i: int) -> Any:
        assert self.node is not None
        if i >= len(self.node.input) or not self.node.input[i]:
            return None
        return self.env[self.node.input[i]]

    def const_value(self, i: int, what: str) -> np.ndarray:
        v = self.value(i)
        if not isinstance(v, _Const):
            raise self.unsupported(f"{self.node.op_type} with a computed {what}")  # type: ignore[union-attr]
        return v.value

    def tensor(self, v: Any, trainable: bool | None = None) -> str:
        """The IR node for value ``v``, materialising folded constants once each."""
        if isinstance(v, str):
            return v
        if not isinstance(v, _Const):
            v = _Const(np.asarray(v, dtype=np.float32), False)
        train = v.initializer and v.value.size > 1 if trainable is None else trainable
        key = (id(v.value), train)
        if key not in self._const_nodes:
            data = v.value.astype(np.float32) if v.value.dtype == np.float64 else v.value
            name = self.b.const(self.out_name(".const"), data.shape, str(data.dtype), data, train)
            self._const_nodes[key] = name
        return self._const_nodes[key]

    def out_name(self, suffix: str = "") -> str:
        assert self.node is not None
        return (self.node.name or self.node.output[0]) + suffix

    def op(self, op: str, inputs: list[Any], attrs: Any = None, suffix: str = "") -> str:
        for i in inputs:
            if isinstance(i, Unavailable):
                raise self.unsupported(f"use of the {i}")
        ins = [self.tensor(i) for i in inputs]
        return self.b.op(op, ins, attrs or A.NoAttrs(), self.out_name(suffix), f"ONNX {self.node.op_type}")  # type: ignore[union-attr]

    def shape(self, v: Any) -> tuple[int, ...]:
        return v.value.shape if isinstance(v, _Const) else self.b[v].shape

    # -- the walk ---------------------------------------------------------------------------
    def run(self, input_shape: tuple[int, ...] | None) -> Graph:
        from aics.ir.onnx_rules import RULES

        g = self.model.graph
        inits = {t.name for t in g.initializer}
        for t in g.initializer:
            self.env[t.name] = _Const(numpy_helper.to_array(t), True)
        real_inputs = [i for i in g.input if i.name not in inits]
        for k, inp in enumerate(real_inputs):
            self.env[inp.name] = self.b.input(inp.name, _input_shape(inp, input_shape if k == 0 else None),
                                              _ONNX_DTYPES.get(inp.type.tensor_type.elem_type, "float32"))
        for node in g.node:
            self.node = node
            rule: Callable[..., Any] | None = RULES.get(node.op_type)
            if rule is None:
                raise self.unsupported(node.op_type)
            outs = rule(self)
            outs = outs if isinstance(outs, list) else [outs]
            for name, v in zip(node.output, outs):
                self.env[name] = v
        outputs = [self.env[o.name] for o in g.output]
        return self.b.build([self.tensor(o) for o in outputs])


def _input_shape(inp: onnx.ValueInfoProto, given: tuple[int, ...] | None) -> tuple[int, ...]:
    dims = inp.type.tensor_type.shape.dim
    if given is not None:
        if len(given) != len(dims):
            raise ModelError(f"input '{inp.name}' has rank {len(dims)}, --input-shape gives {len(given)} dims")
        return given
    shape = []
    for d in dims:
        if not d.HasField("dim_value") or d.dim_value <= 0:
            raise ModelError(f"input '{inp.name}' has a dynamic dimension '{d.dim_param or '?'}': "
                             f"give --input-shape")
        shape.append(d.dim_value)
    return tuple(shape)


def import_onnx(path: str | Path, input_shape: tuple[int, ...] | None = None) -> Graph:
    try:
        model = onnx.load(str(path))
    except Exception as err:  # protobuf raises DecodeError and others
        raise ModelError(f"cannot read ONNX file '{path}': {type(err).__name__}: {err}") from None
    if not model.graph.node:
        raise ModelError(f"ONNX file '{path}' has an empty graph")
    return OnnxImporter(model, model.graph.name or Path(path).stem).run(input_shape)
