"""Executor API and bad input: one-line typed errors that name the input or node and the problem."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
from torch import nn

from aics.errors import AicsError, DataError, QuantizationError
from aics.ir.graph import Graph
from aics.ir.quant import QuantParams
from aics.ir.torch_import import import_module
from aics.models import load_graph
from aics.numerics import FixedType
from aics.reference import Executor, compute_mode, dequantize, run, run_all
from aics.reference.qtensor import QuantView

Annotate = Callable[..., Graph]  # the conftest fixture


def _mlp():
    graph = import_module(nn.Sequential(nn.Linear(6, 5), nn.Sigmoid(), nn.Linear(5, 3)), (2, 6))
    x = np.random.default_rng(0).standard_normal((2, 6)).astype(np.float32)
    return graph, x


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text and isinstance(err.value, AicsError)
    return text


@pytest.mark.parametrize("bad,match", [
    (np.zeros((2, 7), np.float32), r"input 'input_1': expected shape \[2, 6\], got \[2, 7\]"),
    (np.full((2, 6), np.nan, np.float32), "input 'input_1': contains NaN"),
    (np.full((2, 6), np.inf, np.float32), "input 'input_1': contains Inf"),
    (np.zeros((2, 6), np.int32), "input 'input_1': expected floating-point data, got int32"),
])
def test_bad_inputs(bad: np.ndarray, match: str) -> None:
    graph, _ = _mlp()
    with pytest.raises(DataError, match=match) as err:
        run(graph, bad)
    _one_line(err)


def test_input_names_are_checked() -> None:
    graph, x = _mlp()
    with pytest.raises(DataError, match="missing graph input 'input_1'"):
        run(graph, {})
    with pytest.raises(DataError, match=r"unknown graph input\(s\) \['y'\]"):
        run(graph, {"input_1": x, "y": x})


def test_graph_without_weights_is_refused() -> None:
    graph = load_graph("lenet5")  # traced on the meta device: no weights
    with pytest.raises(DataError, match="no data for const"):
        Executor(graph)


def test_token_ids_are_checked() -> None:
    graph = import_module(nn.Embedding(10, 4), (1, 3), "int64")
    with pytest.raises(DataError, match="expected integer ids"):
        run(graph, np.zeros((1, 3), np.float32))
    with pytest.raises(DataError, match=r"embedding ids must be in \[0, 10\)"):
        run(graph, np.array([[1, 2, 10]]))


def test_missing_quant_params_name_the_node(annotate: Annotate) -> None:
    graph, x = _mlp()
    qgraph = annotate(graph, [x])
    quant = {k: v for k, v in qgraph.quant.items() if k != "1"}
    with pytest.raises(QuantizationError, match=r"node '1' \(sigmoid\) has no quantization parameters") as err:
        Executor(qgraph.with_nodes(qgraph.nodes, quant=quant), "int")
    _one_line(err)


def test_unknown_numerics() -> None:
    graph, _ = _mlp()
    with pytest.raises(QuantizationError, match="numerics must be"):
        Executor(graph, "int4")  # type: ignore[arg-type]


def test_codes_can_be_given_directly_and_are_range_checked(annotate: Annotate, codes_of: Callable) -> None:
    graph, x = _mlp()
    qgraph = annotate(graph, [x])
    codes = codes_of(qgraph, {"input_1": x})["input_1"]
    assert codes.dtype == np.int8
    ex = Executor(qgraph, "int")
    np.testing.assert_array_equal(ex.run(codes)[0], ex.run(x)[0])
    fixed = annotate(graph, [x], FixedType(6, 4))
    with pytest.raises(DataError, match="codes outside"):
        run(fixed, np.full((2, 6), 100, np.int8), "int")


def test_int_results_are_codes_and_dequantize(annotate: Annotate) -> None:
    graph, x = _mlp()
    qgraph = annotate(graph, [x])
    tensors = run_all(qgraph, x, "int")
    out = qgraph.outputs[0]
    assert tensors[out].dtype == np.int8
    real = dequantize(qgraph, out, tensors[out])
    assert real.dtype == np.float32
    assert np.abs(real - run(graph, x)[0]).max() < 0.05
    assert run_all(qgraph, x, "int")[out].tolist() == tensors[out].tolist()  # deterministic


def test_mixed_precision_float_layer_runs_on_the_host(annotate: Annotate) -> None:
    """A tensor annotated float32 keeps its producer in float; its integer consumer then reads a
    float input, so it computes in float and quantizes its result."""
    graph, x = _mlp()
    qgraph = annotate(graph, [x])
    quant = dict(qgraph.quant)
    quant["1"] = QuantParams("float32")
    mixed = qgraph.with_nodes(qgraph.nodes, quant=quant)
    ex = Executor(mixed, "int")
    assert ex.modes == {"0": "int", "1": "float", "2": "float"}
    view = QuantView(mixed)
    assert [compute_mode(mixed[n], view) for n in ("0", "1", "2")] == ["int", "float", "float"]
    tensors = ex.run_all(x)
    assert tensors["1"].dtype == np.float32 and tensors["2"].dtype == np.int8


@pytest.mark.parametrize("bad,match", [
    (QuantParams("int8", (0.1, 0.2), (0, 0), axis=1), "node '1': per-channel params are only supported on constants"),
    (QuantParams("fixed", fixed=FixedType(20, 10)), r"node '1': ap_fixed<20,10> is wider than 16 bits"),
    (QuantParams("uint4"), "node '1': unknown quantized dtype 'uint4'"),
])
def test_unsupported_quant_params_are_refused(bad: QuantParams, match: str, annotate: Annotate) -> None:
    graph, x = _mlp()
    quant = dict(annotate(graph, [x]).quant)
    quant["1"] = bad
    with pytest.raises(QuantizationError, match=match) as err:
        Executor(graph.with_nodes(graph.nodes, quant=quant), "int")
    _one_line(err)
