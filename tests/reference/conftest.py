"""Test helpers of the reference executor's tests, given to tests as fixtures.

``annotate`` is a minimal min-max annotator (float graph + samples -> ``Graph.quant``), so the
integer recipes can be tested without the PTQ workflow of ``aics.compress.quant`` (observers, BN
folding, plans). Rules:

* activations: ``int8`` asymmetric over [min(lo, 0), max(hi, 0)]; ``int16`` symmetric (zp 0);
  or one ``FixedType`` for every tensor. A relu / relu6 that is the only reader of its producer
  gives the producer its own params (the activation fused into the producer's requantization,
  as TFLite converters do: the relu is then ``max(q, zp)``, the identity on those codes);
* weights of conv / linear / conv_transpose: symmetric per output channel in ``weight_dtype``
  (the fixed scheme uses the same ``FixedType``); biases stay float (the executor derives int32);
* other constants that integer ops read as tensors (add/mul/matmul operands, moved constants such
  as a class token, embedding tables): per tensor like the weights; constants of float recipes
  (norm parameters) stay float.

Scales are rounded to float32 so that ONNX models (float32 scales) carry exactly the same values.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

import numpy as np
import pytest

from aics.errors import QuantizationError
from aics.ir.graph import Graph
from aics.ir.ops import DATA_MOVEMENT
from aics.ir.quant import QuantParams
from aics.numerics import FixedType, dtype_range
from aics.reference import run_all
from aics.reference.executor import Inputs
from aics.reference.qtensor import quantize

_WEIGHT_AXIS = {"conv2d": 0, "linear": 0, "conv_transpose2d": 1}
_TENSOR_CONST_OPS = frozenset({"add", "sub", "mul", "matmul", "embedding"}) | DATA_MOVEMENT


def _f32(v: float) -> float:
    return float(np.float32(v))


def _activation(lo: float, hi: float, dtype: str) -> QuantParams:
    qmin, qmax = dtype_range(dtype)
    if dtype == "int16":
        scale = _f32(max(abs(lo), abs(hi), 1e-8) / qmax)
        return QuantParams(dtype, (scale,), (0,))
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = _f32(max(hi - lo, 1e-8) / (qmax - qmin))
    zp = int(np.clip(round(qmin - lo / scale), qmin, qmax))
    return QuantParams(dtype, (scale,), (zp,))


def _symmetric(data: np.ndarray, dtype: str, axis: int | None) -> QuantParams:
    qmax = dtype_range(dtype)[1]
    if axis is None:
        return QuantParams(dtype, (_f32(max(float(np.abs(data).max(initial=0)), 1e-8) / qmax),), (0,))
    peak = np.abs(np.moveaxis(data, axis, 0).reshape(data.shape[axis], -1)).max(axis=1)
    scales = tuple(_f32(max(float(p), 1e-8) / qmax) for p in peak)
    return QuantParams(dtype, scales, (0,) * len(scales), axis if len(scales) > 1 else None)


def minmax_annotate(graph: Graph, samples: Iterable[Inputs], scheme: str | FixedType = "int8",
                    weight_dtype: str = "int8") -> Graph:
    """``graph`` with ``quant`` filled from the float ranges seen on ``samples`` (module docstring)."""
    ranges: dict[str, tuple[float, float]] = {}
    for sample in samples:
        for name, value in run_all(graph, sample).items():
            if graph[name].op == "const" or value.dtype.kind != "f":
                continue
            lo, hi = float(value.min()), float(value.max())
            old = ranges.get(name, (lo, hi))
            ranges[name] = (min(lo, old[0]), max(hi, old[1]))
    if not ranges:
        raise QuantizationError("min-max calibration needs at least one sample")
    fixed = scheme if isinstance(scheme, FixedType) else None
    quant: dict[str, QuantParams] = {}
    for name, (lo, hi) in ranges.items():
        quant[name] = QuantParams("fixed", fixed=fixed) if fixed else _activation(lo, hi, str(scheme))
    users = graph.users()
    for node in graph.nodes:
        src = node.inputs[0] if node.inputs else ""
        if node.op in ("relu", "relu6") and users[src] == [node.name] and graph[src].op != "input":
            quant[src] = quant[node.name]
    for node in graph.nodes:
        for idx, name in enumerate(node.inputs):
            if graph[name].op != "const" or name in quant:
                continue
            is_weight = node.op in _WEIGHT_AXIS and idx == 1
            if not (is_weight or node.op in _TENSOR_CONST_OPS):
                continue
            if fixed:
                quant[name] = QuantParams("fixed", fixed=fixed)
            else:
                data = np.asarray(graph.params[name], dtype=np.float64)
                axis = None
                if is_weight and not (node.op == "conv_transpose2d" and node.attrs.groups != 1):
                    axis = _WEIGHT_AXIS[node.op]
                quant[name] = _symmetric(data, weight_dtype, axis)
    return graph.with_nodes(graph.nodes, quant=quant)


def input_codes(graph: Graph, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Float inputs quantized as the executor quantizes them (handy for other backends' tests)."""
    return {k: quantize(np.asarray(v, dtype=np.float32), graph.quant[k]) for k, v in inputs.items()}


@pytest.fixture(scope="session")
def annotate() -> Callable[..., Graph]:
    """``annotate(graph, samples, scheme="int8", weight_dtype="int8")`` (``minmax_annotate``)."""
    return minmax_annotate


@pytest.fixture(scope="session")
def codes_of() -> Callable[[Graph, Mapping[str, np.ndarray]], dict[str, np.ndarray]]:
    """``codes_of(qgraph, inputs)``: float inputs quantized as the executor quantizes them."""
    return input_codes
