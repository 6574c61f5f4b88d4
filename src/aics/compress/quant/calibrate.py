"""Calibration: run the float graph on sample inputs and turn each tensor's values into a range.

Only the tensors whose ranges set quantization params (``range_owners``) are observed. Big
tensors are subsampled with a fixed seed before the observer sees them (at most ``max_values``
values per tensor in all), but their true minimum and maximum are always kept, so min-max
calibration is exact and every run gives the same ranges.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from aics.compress.quant.annotate import Range, node_schemes, range_owners
from aics.compress.quant.observers import MinMaxObserver, MseObserver, PercentileObserver
from aics.compress.quant.plan import QuantPlan
from aics.data import padded_batches
from aics.errors import QuantizationError
from aics.ir.graph import Graph

# Runs the float graph on a batch and returns every node's output by name.
Runner = Callable[[np.ndarray], Mapping[str, np.ndarray]]
Observer = MinMaxObserver | PercentileObserver | MseObserver


def check_calibration_inputs(inputs: np.ndarray) -> None:
    if inputs is None or len(inputs) == 0:
        raise QuantizationError("calibration data is empty (need at least one example)")
    if not np.all(np.isfinite(inputs)):
        raise QuantizationError("calibration data contains NaN or Inf")


def observer_for(plan: QuantPlan) -> Observer:
    if plan.calib == "percentile":
        return PercentileObserver(plan.percentile)
    return MseObserver() if plan.calib == "mse" else MinMaxObserver()


def float_runner(graph: Graph) -> Runner:
    """The float32 reference executor of ``graph``, returning every tensor."""
    from aics.reference import Executor

    return Executor(graph, "float32").run_all


def calibrate(graph: Graph, inputs: np.ndarray, plan: QuantPlan, run: Runner | None = None,
              max_values: int = 1 << 20) -> dict[str, Range]:
    """Ranges of every range owner of ``graph`` over ``inputs`` (N examples on axis 0, fed in
    batches of the graph's own batch size). ``run`` evaluates the float graph on one batch
    (default: the float reference executor)."""
    check_calibration_inputs(inputs)
    run = run or float_runner(graph)
    schemes = node_schemes(graph, plan)
    owners = sorted({o for name, o in range_owners(graph, schemes).items()
                     if schemes[name].kind != "fixed" and graph[o].op != "const"})
    batches = padded_batches(inputs, graph.inputs[0].shape[0])
    per_batch = max(1, max_values // len(batches))
    rng = np.random.default_rng(plan.seed)
    samples: dict[str, list[np.ndarray]] = {o: [] for o in owners}
    for xb, _ in batches:
        acts = run(xb)
        for o in owners:
            v = np.asarray(acts[o], dtype=np.float32).ravel()
            if not np.all(np.isfinite(v)):
                raise QuantizationError(f"tensor '{o}' is NaN or Inf on calibration data")
            if v.size > per_batch:
                v = np.concatenate([v[rng.integers(0, v.size, per_batch)], [v.min(), v.max()]])
            samples[o].append(v)
    observer = observer_for(plan)
    ranges: dict[str, Range] = {}
    for o in owners:
        scheme = schemes[o]
        levels = 1 << (scheme.bits if scheme.kind == "int" else 8)
        ranges[o] = observer(np.concatenate(samples[o]), levels)
    return ranges
