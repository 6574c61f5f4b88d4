"""Import a ``torch.nn.Module`` into the graph IR through ``torch.fx`` symbolic tracing.

Tracing needs no real data: shapes come from the IR's own inference, so a model built on the meta
device imports (and counts) without allocating weights. Standard ``torch.nn`` modules are leaves
mapped by ``torch_rules``; user modules are traced through. Anything without a rule raises
``UnsupportedOpError`` naming the op, the node and its source line.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np
import torch
from torch import fx, nn

from aics.errors import ModelError, UnsupportedOpError
from aics.ir import attrs as A
from aics.ir.graph import Graph, GraphBuilder

_TORCH_TO_IR_DTYPE = {torch.float32: "float32", torch.float16: "float16", torch.int64: "int64",
                      torch.int32: "int32", torch.int8: "int8", torch.uint8: "uint8", torch.bool: "bool"}


def ir_dtype(dtype: torch.dtype) -> str:
    if dtype not in _TORCH_TO_IR_DTYPE:
        raise ModelError(f"unsupported tensor dtype {dtype}")
    return _TORCH_TO_IR_DTYPE[dtype]


class Tensor(str):
    """An IR node name standing for a tensor value in the importer's environment."""


class RnnResult(tuple):
    """What nn.LSTM/GRU/MultiheadAttention return: (output, Unmapped(...)); only the output maps."""


class Unmapped(str):
    """A value the IR does not represent (an RNN's final state); using it as a tensor is an error."""


class _Tracer(fx.Tracer):
    def __init__(self, leaf_types: tuple[type, ...]) -> None:
        super().__init__()
        self.leaf_types = leaf_types
        self.record_stack_traces = True

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if isinstance(m, self.leaf_types):
            return True
        return super().is_leaf_module(m, qualname)


def _source_line(node: fx.Node) -> str:
    trace = node.meta.get("stack_trace") or ""
    found = [f for f in re.findall(r'File "([^"]+)", line (\d+)', trace) if "/torch/" not in f[0]]
    if not found:
        return ""
    path, line = found[-1]
    return f"{path.rsplit('/', 1)[-1]}:{line}"


class Importer:
    """Walks the fx graph once; ``env`` maps fx nodes to Tensor names or plain Python values."""

    def __init__(self, module: nn.Module, gm: fx.GraphModule, name: str) -> None:
        self.module = module
        self.gm = gm
        self.b = GraphBuilder(name)
        self.env: dict[fx.Node, Any] = {}
        self._param_nodes: dict[int, str] = {}
        self.node: fx.Node | None = None  # the fx node being imported (for names and errors)
        self.source = ""

    # -- helpers the rules use ------------------------------------------------------------------
    def shape(self, t: str) -> tuple[int, ...]:
        return self.b[t].shape

    def dtype(self, t: str) -> str:
        return self.b[t].dtype

    def name(self, suffix: str = "") -> str:
        assert self.node is not None
        base = str(self.node.target) if self.node.op == "call_module" else self.node.name
        return base + suffix

    def op(self, op: str, inputs: list[str], attrs: Any = None, suffix: str = "") -> Tensor:
        attrs = A.NoAttrs() if attrs is None else attrs
        for i in inputs:
            if isinstance(i, Unmapped):
                raise self.unsupported(str(i))
        return Tensor(self.b.op(op, inputs, attrs, self.name(suffix), self.source))

    def param(self, name: str, tensor: torch.Tensor, trainable: bool | None = None) -> Tensor:
        """A const node for a parameter or buffer, shared when the same tensor is used twice."""
        key = id(tensor)
        if key in self._param_nodes:
            return Tensor(self._param_nodes[key])
        if trainable is None:
            trainable = isinstance(tensor, nn.Parameter)
        data = None if tensor.is_meta else tensor.detach().cpu().numpy()
        node = self.b.const(name, tuple(tensor.shape), ir_dtype(tensor.dtype), data, trainable, self.source)
        self._param_nodes[key] = node
        return Tensor(node)

    def const(self, value: float | np.ndarray, name: str = "const") -> Tensor:
        arr = np.asarray(value, dtype=np.float32)
        return Tensor(self.b.const(self.name("." + name), arr.shape, "float32", arr, trainable=False))

    def derived(self, name: str, tensor: torch.Tensor | None, shape: tuple[int, ...],
                fn: Callable[[np.ndarray], np.ndarray]) -> Tensor:
        """A trainable const computed from a parameter (e.g. one third of MHA's in_proj)."""
        data = None if tensor is None or tensor.is_meta else fn(tensor.detach().cpu().numpy())
        return Tensor(self.b.const(name, shape, "float32", data, True, self.source))

    def tensor(self, value: Any) -> Tensor:
        return value if isinstance(value, Tensor) else self.const(value)

    def unsupported(self, what: str) -> UnsupportedOpError:
        assert self.node is not None
        where = f" ({self.source})" if self.source else ""
        return UnsupportedOpError(f"unsupported op '{what}' at node '{self.node.name}'{where}")

    # -- the walk -------------------------------------------------------------------------------
    def run(self, input_shapes: list[tuple[int, ...]], input_dtypes: list[str]) -> Graph:
        from aics.ir.torch_nn_rules import module_rule
        from aics.ir.torch_rules import call_function, call_method

        placeholders = [n for n in self.gm.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != len(input_shapes):
            raise ModelError(f"model takes {len(placeholders)} inputs, {len(input_shapes)} shapes given")
        outputs: list[str] = []
        for node in self.gm.graph.nodes:
            self.node, self.source = node, _source_line(node)
            if node.op == "placeholder":
                i = placeholders.index(node)
                self.env[node] = Tensor(self.b.input(node.name, input_shapes[i], input_dtypes[i]))
                continue
            if node.op == "output":
                outputs = [t for t in _flatten(self.load(node.args[0])) if isinstance(t, Tensor)]
                continue
            args, kwargs = self.load(node.args), self.load(node.kwargs)
            if node.op == "get_attr":
                value = _get_attr(self.gm, str(node.target))
                self.env[node] = self.param(str(node.target), value) if isinstance(value, torch.Tensor) else value
            elif node.op == "call_module":
                module = self.gm.get_submodule(node.target)
                self.source = f"{node.target} ({type(module).__name__})" + (f" {self.source}" if self.source else "")
                rule = module_rule(module)
                if rule is None:
                    raise self.unsupported(f"{type(module).__module__}.{type(module).__name__}")
                self.env[node] = rule(self, module, *args, **kwargs)
            elif node.op == "call_function":
                self.env[node] = call_function(self, node.target, args, kwargs)
            elif node.op == "call_method":
                self.env[node] = call_method(self, node.target, args, kwargs)
        if not outputs:
            raise ModelError("model returns no tensor")
        return self.b.build(outputs)

    def load(self, arg: Any) -> Any:
        return fx.node.map_arg(arg, lambda n: self.env[n])


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flatten(v)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _flatten(v)]
    return [value]


def _get_attr(gm: nn.Module, target: str) -> Any:
    obj: Any = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def import_module(model: nn.Module, input_shapes: tuple[int, ...] | list[tuple[int, ...]],
                  input_dtypes: str | list[str] = "float32", name: str | None = None) -> Graph:
    """Trace ``model`` and build its IR for inputs of the given shape(s)."""
    return import_traced(model, input_shapes, input_dtypes, name)[0]


def import_traced(model: nn.Module, input_shapes: tuple[int, ...] | list[tuple[int, ...]],
                  input_dtypes: str | list[str] = "float32", name: str | None = None
                  ) -> tuple[Graph, fx.GraphModule, dict[str, str]]:
    """Like ``import_module``, also returning the fx GraphModule and, for every fx node that
    produced a tensor, the name of the IR node holding it (tests compare shapes through it)."""
    from aics.ir.torch_nn_rules import LEAF_TYPES

    shapes = [tuple(input_shapes)] if input_shapes and isinstance(input_shapes[0], int) else \
        [tuple(s) for s in input_shapes]  # type: ignore[union-attr]
    dtypes = [input_dtypes] * len(shapes) if isinstance(input_dtypes, str) else list(input_dtypes)
    if isinstance(model, LEAF_TYPES):  # fx never treats the root as a leaf: give it a parent
        model = nn.Sequential(model)
    tracer = _Tracer(LEAF_TYPES)
    try:
        fx_graph = tracer.trace(model)
    except Exception as err:  # fx raises many types (TraceError, TypeError on Proxy use, ...)
        raise ModelError(f"cannot trace {type(model).__name__} with torch.fx: {type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''}") from None
    gm = fx.GraphModule(tracer.root, fx_graph)
    importer = Importer(model, gm, name or type(model).__name__)
    graph = importer.run(shapes, dtypes)
    tensors = {n.name: str(v) for n, v in importer.env.items() if isinstance(v, Tensor)}
    return graph, gm, tensors
