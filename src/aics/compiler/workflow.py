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

QUANTS = ("int8",)


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


def calibration_inputs(spec: str, graph: Graph, calib: str, size: int, seed: int = 0) -> np.ndarray:
    shape = graph.inputs[0].shape
    if calib == "random":
        return np.random.default_rng(seed).standard_normal((size, *shape[1:])).astype(np.float32)
    if calib == "digits":
        from aics.compress.quant.workflow import load_subject

        split = load_subject(spec, "digits").split
        return split.x_train[:size].astype(np.float32)
    raise DataError(f"unknown calibration data '{calib}' (random or digits)")


def quantized_model(spec: str, quant: str = "int8", input_shape: Shape | None = None, calib: str = "random",
                    calib_size: int = 8) -> Graph:
    if quant not in QUANTS:
        raise CompileError(f"--quant {quant}: only int8 programs are implemented (fp32 and fixed point are not yet)")
    graph, quantized = float_model(spec, input_shape)
    if quantized:
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
             trace: str | None = None) -> Simulation:
    """Compile, run (timing, and functional unless ``functional=False``) and compare with the
    integer reference on ``x`` (default: a seeded standard-normal input)."""
    from aics.dlp import sim
    from aics.reference import run

    compiled = compile_graph(qgraph, arch)
    if x is None:
        x = np.random.default_rng(seed).standard_normal(qgraph.inputs[0].shape).astype(np.float32)
    inputs = input_codes(compiled, x)
    result = sim.run(compiled.program, arch, inputs if functional else None,
                     mode="both" if functional else "timing", trace=trace)
    assert result.timing is not None
    report = summary(compiled, result.timing, arch)
    refs: dict[str, np.ndarray] = {}
    outs = dict(result.outputs) if functional else {}
    if functional:
        ref_list = run(compiled.graph, next(iter(inputs.values())), "int")
        refs = dict(zip(compiled.graph.outputs, ref_list))
        diffs = [int(np.abs(outs[k].astype(np.int64) - refs[k].astype(np.int64)).max(initial=0)) for k in refs]
        report["bit_exact"] = all(np.array_equal(outs[k], refs[k]) for k in refs)
        report["max_abs_diff"] = max(diffs, default=0)
    else:
        report["bit_exact"], report["max_abs_diff"] = None, None
    return Simulation(compiled, outs, refs, report)
