"""The ``aics compile`` / ``aics simulate`` workflow as a Python API: model -> quantized graph ->
program -> simulation compared with the integer reference.

``quantized_model(spec, ...)`` accepts every MODEL form: a zoo name, ``file.py:factory``, an
``.onnx`` file, a checkpoint ``.pt`` (from ``aics train``) and a quantized IR ``.json`` (from
``aics quantize``, used as is). Zoo and factory models get random weights from a fixed seed
(0), so a compile and a later simulate of the same name see the same network. Calibration (PTQ) uses seeded random inputs by default, or the
digits training split (``calib="digits"``) for models trained on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aics.compiler.compile import Compiled, compile_graph
from aics.compiler.report import summary
from aics.dlp.arch import Arch
from aics.errors import CompileError, DataError
from aics.ir.graph import Graph
from aics.models import Shape

QUANTS = ("int8", "fp32")


def float_model(spec: str, input_shape: Shape | None = None) -> tuple[Graph, bool]:
    """(graph, already quantized) for any MODEL form."""
    if spec.endswith(".json"):
        from aics.ir.serialize import load

        graph = load(spec)
        return graph, bool(graph.quant)
    if spec.endswith(".pt"):
        from aics.checkpoint import load as load_ckpt
        from aics.ir.torch_import import import_module

        ckpt = load_ckpt(spec)
        return import_module(ckpt.build(), input_shape or ckpt.input_shape, name=ckpt.model), False
    import torch

    from aics.models import load_graph

    with torch.random.fork_rng():  # zoo models get random weights: seeded, so runs repeat exactly
        torch.manual_seed(0)
        return load_graph(spec, input_shape, weights=True), False


def random_input(graph: Graph, rng: np.random.Generator, batch: int | None = None) -> np.ndarray:
    """A seeded input for the graph's (one) input: standard normal, or token ids below the
    smallest embedding table that reads them."""
    node = graph.inputs[0]
    shape = node.shape if batch is None else (batch, *node.shape[1:])
    if node.dtype.startswith("float"):
        return rng.standard_normal(shape).astype(np.float32)
    tables = [graph[n.inputs[1]].shape[0] for n in graph.nodes if n.op == "embedding" and n.inputs[0] == node.name]
    return rng.integers(0, min(tables, default=2), shape).astype(np.int64)


def calibration_inputs(spec: str, graph: Graph, calib: str, size: int, seed: int = 0) -> np.ndarray:
    if calib == "random":
        return random_input(graph, np.random.default_rng(seed), size)
    if calib == "digits":
        from aics.compress.quant.workflow import load_subject

        split = load_subject(spec, "digits").split
        return split.x_train[:size].astype(np.float32)
    raise DataError(f"unknown calibration data '{calib}' (random or digits)")


def quantized_model(spec: str, quant: str = "int8", input_shape: Shape | None = None, calib: str = "random",
                    calib_size: int = 8) -> Graph:
    if quant not in QUANTS:
        raise CompileError(f"--quant {quant}: the DLP runs int8 or fp32 programs (fixed point: see aics hls)")
    graph, quantized = float_model(spec, input_shape)
    if quantized or quant == "fp32":  # a float graph compiles to an fp32 program
        return graph
    if len(graph.inputs) != 1:
        raise CompileError(f"model '{spec}' has {len(graph.inputs)} inputs; the compiler handles one")
    from aics.compress.quant import quantize_graph

    return quantize_graph(graph, calibration_inputs(spec, graph, calib, calib_size))


def input_codes(compiled: Compiled, x: np.ndarray) -> dict[str, np.ndarray]:
    """The program's input from float data (quantized as the reference does) or int8 codes."""
    from aics.reference import qtensor as Q

    desc = compiled.program.inputs[0] if compiled.program.inputs else None
    if desc is None:
        raise DataError("the program has no input")
    return {desc.name: to_codes(x, desc, Q)}


def to_codes(x: np.ndarray, desc: Any, Q: Any = None) -> np.ndarray:
    from aics.numerics import kernels

    x = np.asarray(x)
    if x.shape != desc.shape and x.size == int(np.prod(desc.shape)):
        x = x.reshape(desc.shape)
    if x.dtype == desc.dtype.numpy:
        return x
    if x.dtype.kind in "iu" and desc.dtype.text == "int32" and desc.scale == 1.0 and desc.zero_point == 0:
        if x.size and (x.min() < -(2**31) or x.max() >= 2**31):
            raise DataError(f"input '{desc.name}': token ids outside int32")
        return x.astype(np.int32)  # token ids
    if x.dtype.kind != "f":
        raise DataError(f"input '{desc.name}': expected float data or {desc.dtype.text} codes, got {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise DataError(f"input '{desc.name}': contains NaN or Inf values")
    return kernels.cast(x.astype(np.float32), "fp32", desc.dtype.text, desc.scale, desc.zero_point, "half_even")


@dataclass(frozen=True)
class Simulation:
    compiled: Compiled
    outputs: dict[str, np.ndarray]
    reference: dict[str, np.ndarray]
    report: dict[str, Any]


def simulate(qgraph: Graph, arch: Arch, x: np.ndarray | None = None, seed: int = 0, functional: bool = True,
             trace: str | None = None, keep_on_chip: bool = True, reorder: bool = True) -> Simulation:
    """Compile (``keep_on_chip``, ``reorder``: as ``compile_graph``), run (timing, and functional unless
    ``functional=False``) and compare with the integer reference on ``x`` (default: a seeded
    standard-normal input). For a float graph (an
    fp32 program) the reference is the float one, and ``max_rel_diff`` (max |diff| / max |ref|)
    says how close the DLP's float sums came (``bit_exact`` is reported as it is)."""
    from aics.compiler.host_runtime import HostRuntime
    from aics.dlp import sim
    from aics.reference import run

    compiled = compile_graph(qgraph, arch, keep_on_chip, reorder)
    if x is None:
        x = random_input(qgraph, np.random.default_rng(seed))
    inputs = input_codes(compiled, x)
    result = sim.run(compiled.program, arch, inputs if functional else None,
                     mode="both" if functional else "timing", trace=trace, host=HostRuntime())
    assert result.timing is not None
    report = summary(compiled, result.timing, arch)
    report["quant"] = "int8" if qgraph.quant else "fp32"
    refs: dict[str, np.ndarray] = {}
    outs = dict(result.outputs) if functional else {}
    report["bit_exact"], report["max_abs_diff"], report["max_rel_diff"] = None, None, None
    if functional:
        ref_list = run(compiled.graph, next(iter(inputs.values())), "int")
        refs = dict(zip(compiled.graph.outputs, ref_list))
        wide = {k: (outs[k].astype(np.float64), refs[k].astype(np.float64)) for k in refs}
        diffs = [float(np.abs(a - b).max(initial=0)) for a, b in wide.values()]
        report["bit_exact"] = all(np.array_equal(outs[k], refs[k]) for k in refs)
        report["max_abs_diff"] = max(diffs, default=0) if report["quant"] == "fp32" else int(max(diffs, default=0))
        report["max_rel_diff"] = max((d / max(float(np.abs(b).max(initial=0)), 1e-30)
                                      for d, (_, b) in zip(diffs, wide.values())), default=0.0)
    return Simulation(compiled, outs, refs, report)
