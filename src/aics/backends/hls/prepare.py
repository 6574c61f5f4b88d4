"""What ``aics hls MODEL`` compiles: an already quantized IR file as it is, or a model (zoo name,
checkpoint, ONNX file) quantized here with the project's PTQ. Checkpoints trained on the digits
calibrate on their training images; anything else calibrates on seeded standard-normal inputs.
"""

from __future__ import annotations

import numpy as np

from aics.compress.quant import QuantPlan, quantize_graph
from aics.errors import QuantizationError
from aics.ir.graph import Graph

CALIB_SIZE = 64


def prepare_graph(spec: str, quant: str | None = None, input_size: int | None = None,
                  seed: int = 0) -> Graph:
    """The quantized, batch-1 IR graph of ``spec`` under scheme ``quant`` (default int8). An IR
    file carries its own quantization, so naming a scheme for one is refused, not ignored."""
    if spec.endswith(".json"):
        from aics.ir.serialize import load

        if quant is not None:
            raise QuantizationError(f"'{spec}' is already quantized; drop --quant (or give the float model)")
        graph = load(spec)
        if not graph.quant:
            raise QuantizationError(f"'{spec}' is a float IR graph; give a model to quantize or run aics quantize")
        return graph
    plan = QuantPlan(default=quant or "int8", seed=seed)
    if spec.endswith(".pt"):
        from aics.checkpoint import load as load_ckpt
        from aics.compress.quant.workflow import load_subject
        from aics.data import calibration_subset

        if load_ckpt(spec).data is not None:
            subject = load_subject(spec)
            calib = calibration_subset(subject.split.x_train, CALIB_SIZE, seed)
            return quantize_graph(subject.graph(1), calib, plan)
    from aics.models import load_graph

    shape = None
    if input_size is not None:
        from aics.models import load_torch

        base = load_torch(spec, meta=True).input_shape if not spec.endswith(".onnx") else None
        shape = (*base[:2], input_size, input_size) if base and len(base) == 4 else None
    graph = load_graph(spec, shape, weights=True)
    calib = np.random.default_rng(seed).standard_normal((CALIB_SIZE, *graph.inputs[0].shape[1:]))
    return quantize_graph(graph, calib.astype(np.float32), plan)
