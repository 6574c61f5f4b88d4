"""Post-training quantization of an IR graph: fold BN, check the plan, calibrate, annotate.

Works on any IR graph with weights (PyTorch or ONNX origin): calibration runs the float reference
executor, so nothing here needs the original nn.Module.
"""

from __future__ import annotations

import difflib

import numpy as np

from aics.compiler.passes import fold_bn
from aics.compress.quant.annotate import annotate
from aics.compress.quant.calibrate import Runner, calibrate
from aics.compress.quant.plan import QuantPlan
from aics.errors import QuantizationError
from aics.ir.graph import Graph


def check_plan(graph: Graph, plan: QuantPlan) -> None:
    """Every layer the plan names must be an op node of ``graph`` (after BN folding)."""
    ops = [n.name for n in graph.nodes if n.op not in ("const", "input")]
    unknown = [name for name, _ in plan.layers if name not in ops]
    if unknown:
        close = difflib.get_close_matches(unknown[0], ops, n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(close)}?)" if close else f" (layers: {', '.join(ops[:8])}, ...)"
        raise QuantizationError(f"quantization plan names unknown layer(s) {', '.join(unknown)}{hint}")


def quantize_graph(graph: Graph, calib: np.ndarray, plan: QuantPlan = QuantPlan(),
                   run: Runner | None = None) -> Graph:
    """The quantized graph: BN folded, ``Graph.quant`` on every tensor, weights on their grids.

    ``calib`` holds calibration inputs batched like the graph's input (axis 0); ``run`` evaluates
    the float graph (default: the float reference executor).
    """
    if not graph.has_weights:
        raise QuantizationError(f"graph '{graph.name}' has no weights to quantize")
    folded = fold_bn(graph)
    check_plan(folded, plan)
    ranges = calibrate(folded, calib, plan, run)
    return annotate(folded, ranges, plan)
