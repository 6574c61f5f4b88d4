"""Latency models for latency budgets and NetAdapt: ``latency_ms(model, input_shape) -> float``.

``dlp_latency.SimulatedLatency`` compiles the network for an arch and returns the simulated time
(with a per-layer lookup table). ``MacProxyLatency`` is the fallback when no arch is given: MACs
over a peak rate plus a fixed cost per weighted layer, computed on our IR. Models that can answer from the IR alone also
offer ``graph_latency_ms(graph)``, which lets budget searches skip building each candidate model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from torch import nn

from aics.analysis.analyze import analyze
from aics.ir.graph import Graph

WEIGHTED = frozenset({"conv2d", "conv_transpose2d", "linear", "matmul", "lstm", "gru"})


@runtime_checkable
class LatencyModel(Protocol):
    def latency_ms(self, model: nn.Module, input_shape: tuple[int, ...]) -> float:
        """Latency of one inference of ``model`` on an input of ``input_shape``, in milliseconds."""
        ...


@runtime_checkable
class GraphLatencyModel(LatencyModel, Protocol):
    def graph_latency_ms(self, graph: Graph) -> float:
        """The same from the IR alone (shapes suffice)."""
        ...


@dataclass(frozen=True)
class MacProxyLatency:
    """latency = sum over MAC layers of (MACs / peak rate + per-layer overhead), in ms.

    Defaults resemble the ``edge-int8`` preset's peak (32x32 MACs at 1 GHz = 1024 GMAC/s) with about
    100 cycles of array fill/drain and setup per layer, which keeps thin layers from being free.
    """

    gmacs_per_s: float = 1024.0
    layer_overhead_us: float = 0.1

    def graph_latency_ms(self, graph: Graph) -> float:
        layers = analyze(graph).layers
        macs = sum(lc.counts.macs for lc in layers)
        count = sum(1 for lc in layers if lc.op in WEIGHTED)
        return macs / (self.gmacs_per_s * 1e6) + count * self.layer_overhead_us / 1e3

    def latency_ms(self, model: nn.Module, input_shape: tuple[int, ...]) -> float:
        from aics.ir.torch_import import import_module

        return self.graph_latency_ms(import_module(model, input_shape))
