"""The quantization workflow behind ``aics quantize``: a model and a dataset in, a quantized IR
graph and its float vs integer test accuracy out.

Graphs are imported twice: at an evaluation batch size, to calibrate and score quickly, and at
batch 1, the graph that is saved and compiled; both carry the same names, so the quantization of
the first is transplanted onto the second. Quantized accuracy always comes from the integer
reference executor, never from fake quantization.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from aics.compiler.passes import fold_bn
from aics.compress.quant.plan import QuantPlan
from aics.compress.quant.ptq import quantize_graph
from aics.compress.quant.qat import export_qat, prepare_qat, trained_float
from aics.data import DATASETS, Split, calibration_subset, load_dataset, load_digits, padded_batches
from aics.errors import AicsError, DataError, QuantizationError
from aics.ir.graph import Graph
from aics.ir.torch_import import import_module
from aics.train import TrainConfig, TrainResult, accuracy, evaluate, train

EVAL_BATCH = 120


@dataclass(frozen=True)
class Subject:
    """What a MODEL argument names, with the data it is scored on."""

    spec: str
    module: nn.Module | None  # None for ONNX files
    input_shape: tuple[int, ...]  # batch 1
    split: Split

    def graph(self, batch: int = 1) -> Graph:
        """The float IR at ``batch`` (ONNX files with a fixed batch stay at their own)."""
        shape = (batch, *self.input_shape[1:])
        if self.module is not None:
            return import_module(self.module, shape, name=Path(self.spec).stem)
        from aics.ir.onnx_import import import_onnx

        try:
            return import_onnx(self.spec, shape)
        except AicsError:
            return import_onnx(self.spec, self.input_shape)


@dataclass(frozen=True)
class QuantizeResult:
    graph: Graph  # quantized, batch 1
    float_accuracy: float
    quant_accuracy: float
    plan: QuantPlan
    qat: TrainResult | None
    seconds: float


def load_subject(spec: str, data: str = "digits", input_size: int | None = None) -> Subject:
    """A checkpoint (``.pt``, with the data preparation it was trained on), an ONNX file or a zoo
    model (random weights), with the test split prepared for its input."""
    if data not in DATASETS:
        raise DataError(f"unknown dataset '{data}' (available: {', '.join(DATASETS)})")
    if spec.endswith(".onnx"):
        shape = _onnx_input_shape(spec)
        return Subject(spec, None, shape, load_dataset(data, shape, input_size))
    if spec.endswith(".pt"):
        from aics.checkpoint import load

        ckpt = load(spec)
        if ckpt.data is None:
            return Subject(spec, ckpt.build(), ckpt.input_shape, load_dataset(data, ckpt.input_shape, input_size))
        if input_size is not None and input_size != ckpt.data.size:
            raise DataError(f"'{spec}' was trained on {ckpt.data.size}x{ckpt.data.size} inputs, "
                            f"not --input-size {input_size}")
        return Subject(spec, ckpt.build(), ckpt.input_shape, load_digits(ckpt.data))
    from aics.models import load_torch

    tm = load_torch(spec)
    shape = tm.input_shape if input_size is None or len(tm.input_shape) != 4 else \
        (*tm.input_shape[:2], input_size, input_size)
    return Subject(spec, tm.module, shape, load_dataset(data, shape, input_size))


def _onnx_input_shape(path: str) -> tuple[int, ...]:
    """The first graph input's shape at batch 1 (a dynamic batch dimension is allowed)."""
    from aics.ir.onnx_import import import_onnx

    try:
        import onnx

        dims = onnx.load(path, load_external_data=False).graph.input[0].type.tensor_type.shape.dim
        first = tuple(d.dim_value if d.HasField("dim_value") else 0 for d in dims)
    except Exception:  # unreadable: let the importer report it
        return import_onnx(path).inputs[0].shape
    if not first or any(d <= 0 for d in first[1:]):
        return import_onnx(path).inputs[0].shape
    return (1, *first[1:])


def graph_accuracy(graph: Graph, x: np.ndarray, y: np.ndarray, numerics: str = "int") -> float:
    """Top-1 accuracy of the reference executor running ``graph`` (first output, class axis last)."""
    from aics.reference import Executor, dequantize

    exe = Executor(graph, numerics)  # type: ignore[arg-type]
    out_name = graph.outputs[0]
    preds = []
    for xb, valid in padded_batches(x, graph.inputs[0].shape[0]):
        out = exe.run(xb)[0]
        out = dequantize(graph, out_name, out) if numerics == "int" else out
        preds.append(np.asarray(out).reshape(len(xb), -1)[:valid].argmax(axis=-1))
    return accuracy(np.concatenate(preds), y)


def transplant(quantized: Graph, target: Graph) -> Graph:
    """``target`` (same model at another batch size) with ``quantized``'s params and annotations."""
    names = [n.name for n in quantized.nodes]
    if names != [n.name for n in target.nodes]:
        raise QuantizationError(f"cannot carry quantization from '{quantized.name}' to batch "
                                f"{target.inputs[0].shape[0]}: node names differ")
    return target.with_nodes(target.nodes, params=dict(quantized.params), quant=dict(quantized.quant))


def quantize_subject(subject: Subject, plan: QuantPlan = QuantPlan(), qat_epochs: int = 0,
                     qat_lr: float = 2e-4, progress: bool = False) -> QuantizeResult:
    """PTQ (``qat_epochs == 0``) or QAT of ``subject`` under ``plan``, scored on its test split."""
    start = time.perf_counter()
    split = subject.split
    batched = subject.graph(EVAL_BATCH)
    if subject.module is not None:
        float_acc = evaluate(subject.module, split.x_test, split.y_test)
    else:
        float_acc = graph_accuracy(batched, split.x_test, split.y_test, "float32")
    calib = calibration_subset(split.x_train, plan.calib_size, plan.seed)
    qat_result = None
    if qat_epochs > 0:
        if subject.module is None:
            raise QuantizationError(f"QAT needs a PyTorch model or checkpoint, not '{subject.spec}'")
        qat = prepare_qat(subject.module, batched.inputs[0].shape, calib, plan)
        qat_result = train(qat.module, split, TrainConfig(epochs=qat_epochs, lr=qat_lr, seed=plan.seed),
                           progress, "qat")
        quantized = export_qat(qat)
        single = import_module(trained_float(qat), subject.input_shape, name=qat.graph.name)
    else:
        quantized = quantize_graph(batched, calib, plan)
        single = fold_bn(subject.graph(1))
    quant_acc = graph_accuracy(quantized, split.x_test, split.y_test, "int")
    return QuantizeResult(transplant(quantized, single), float_acc, quant_acc, plan, qat_result,
                          time.perf_counter() - start)
