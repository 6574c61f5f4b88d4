"""One timing run kept whole, for the plots and the HTML report.

``aics.compiler.workflow.simulate`` returns the summary dict only; a roofline needs each layer's
DRAM bytes and a report needs the per-unit counters, so ``profile`` keeps the compiled program
and the ``TimingReport`` beside the same summary (``aics.compiler.report.summary``). Runs are
timing-only: the plots are about time, bytes and energy, which do not depend on the data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from aics.compiler.compile import Compiled, compile_graph
from aics.compiler.report import peak_macs, summary
from aics.dlp.arch import Arch
from aics.dlp.sim.report import TimingReport
from aics.ir.graph import Graph

LEVELS = ("dram", "sram", "nram", "wram")


@dataclass(frozen=True)
class Profile:
    """A model compiled for and timed on one arch."""

    model: str
    arch: Arch
    compiled: Compiled
    timing: TimingReport
    report: dict[str, Any]  # the ``aics simulate --format json`` object (bit-exact fields: None)
    layer_bytes: dict[str, dict[str, int]]  # layer name -> bytes per memory level (runs counted)

    @property
    def layers(self) -> list[dict[str, Any]]:
        """The summary's per-layer rows, each with ``dram_bytes`` and ``utilization`` added."""
        peak = peak_macs(self.arch)
        rows = []
        for layer in self.report["layers"]:
            nbytes = self.layer_bytes.get(layer["name"], {})
            util = layer["macs"] / (peak * layer["cycles"]) if layer["cycles"] else 0.0
            rows.append({**layer, "dram_bytes": nbytes.get("dram", 0), "utilization": util})
        return rows


def profile(qgraph: Graph, arch: Arch, model: str | None = None,
            trace: str | os.PathLike[str] | None = None) -> Profile:
    """Compile ``qgraph`` for ``arch`` and time it; ``trace`` also writes the Chrome trace."""
    from aics.dlp.sim import timing

    compiled = compile_graph(qgraph, arch)
    report = timing.simulate(compiled.program, arch, trace)
    rep = summary(compiled, report, arch)
    rep["bit_exact"], rep["max_abs_diff"] = None, None
    return Profile(model or qgraph.name, arch, compiled, report, rep, layer_bytes(compiled, arch))


def layer_bytes(compiled: Compiled, arch: Arch) -> dict[str, dict[str, int]]:
    """Bytes each layer reads and writes per memory level, loops counted, all cores summed.

    The timing report aggregates bytes for the whole run only; a roofline needs them per layer,
    so they are recounted here with the simulator's own cost model and loop expansion.
    """
    from aics.dlp.sim import flow
    from aics.dlp.sim.costs import CostModel

    program = compiled.program
    model = CostModel(arch, program.dram_size)
    by_tag: dict[int, np.ndarray] = {}
    for code, stream in zip(program.code, flow.streams(program)):
        if not len(stream):
            continue
        runs = np.bincount(stream, minlength=len(code))
        for index in np.flatnonzero(runs).tolist():
            instr = code[index]
            if not instr.tag:
                continue
            try:
                cost = model.cost(instr, instr.reads(), instr.writes())
            except (ValueError, AttributeError, NotImplementedError):
                continue  # an instruction the cost model does not price moves no bytes it knows of
            acc = by_tag.setdefault(instr.tag, np.zeros(4, dtype=np.int64))
            acc += int(runs[index]) * np.asarray(cost.nbytes, dtype=np.int64)
    return {program.layer_name(tag): dict(zip(LEVELS, acc.tolist())) for tag, acc in sorted(by_tag.items())}


def energy_breakdown(timing: TimingReport) -> dict[str, float]:
    """Energy (pJ) by where it goes: MACs, each memory level's bytes, and the vector unit.

    MAC and byte energies follow ``arch.energy`` exactly as the simulator charges them
    (``sim.costs``); the vector unit gets the rest of the simulator's total, which is what it is
    charged (elements x pJ/op), up to float rounding.
    """
    energy = timing.arch.energy
    dtype = timing.arch.peak_macs_per_cycle()[1]
    parts = {"mac": timing.macs * energy.pj_per_mac.get("int8", energy.pj_per_mac.get(dtype, 0.0))}
    for level in LEVELS:
        parts[level] = timing.bytes.get(level, 0) * energy.pj_per_byte.get(level, 0.0)
    parts["vector"] = max(timing.energy_pj - sum(parts.values()), 0.0)
    return parts
