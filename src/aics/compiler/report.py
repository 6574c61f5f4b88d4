"""The compile + simulate report: cycles against the roofline lower bound, per layer and in total.

Roofline lower bound (issue 5): ``max(MACs / peak MACs per cycle, compulsory DRAM bytes / DRAM bytes
per cycle)`` with the chip's peak (all cores, int8), plus the cycles of the layers the host CPU
runs (the cores wait for them, so no schedule avoids that time). Compulsory bytes of the whole
network are what any schedule must move: every weight and table once, the network input once and
its outputs once (intermediate activations could in principle stay on chip, so they are not
counted). A layer's own bound counts its weights, tables, input and output once (activations go
through DRAM between layers in this compiler); the layer is ``compute``-bound when its MAC time is
the larger of the two, ``memory``-bound otherwise; a layer run by the host CPU is ``host``-bound
(its bound is the host model's time).
"""

from __future__ import annotations

from fractions import Fraction
from math import ceil
from typing import Any

from aics.compiler.compile import Compiled
from aics.dlp.arch import Arch
from aics.dlp.sim.report import TimingReport


def bytes_per_cycle(arch: Arch) -> Fraction:
    return Fraction(str(arch.dram.bandwidth_gbps)) / Fraction(str(arch.frequency_ghz))


def peak_macs(arch: Arch) -> int:
    return arch.cores * arch.peak_macs_per_cycle()[0]


def roofline_cycles(macs: int, nbytes: int, arch: Arch) -> tuple[int, str]:
    """(bound in cycles, "compute" or "memory")."""
    compute = ceil(macs / peak_macs(arch))
    memory = ceil(nbytes / bytes_per_cycle(arch))
    return (compute, "compute") if compute >= memory else (memory, "memory")


def network_compulsory_bytes(compiled: Compiled) -> int:
    p = compiled.program
    consts = len(p.dram)
    io = sum(d.nbytes for d in (*p.inputs, *p.outputs))
    return consts + io


def summary(compiled: Compiled, timing: TimingReport, arch: Arch) -> dict[str, Any]:
    """The ``aics simulate --format json`` object (without the bit-exactness fields)."""
    macs = sum(info.macs for info in compiled.layers)
    bound, kind = roofline_cycles(macs, network_compulsory_bytes(compiled), arch)
    bound += timing.host_cycles  # host layers run while the cores wait: no schedule avoids that time
    by_tag = {layer.tag: layer for layer in timing.layers}
    layers = []
    for info in compiled.layers:
        stats = by_tag.get(info.tag)
        l_bound, l_kind = roofline_cycles(info.macs, info.compulsory_bytes, arch)
        cycles = stats.cycles if stats else 0
        if stats and "host" in stats.busy:  # run by the host CPU: no DLP bound applies
            l_bound, l_kind = stats.busy["host"], "host"
        layers.append({"name": info.name, "op": info.op, "cycles": cycles, "macs": info.macs,
                       "bound_cycles": l_bound, "bound": l_kind,
                       "ratio": round(cycles / l_bound, 3) if l_bound else None})
    return {
        "arch": arch.name,
        "cycles": timing.cycles,
        "seconds": timing.seconds,
        "macs": macs,
        "utilization": macs / (peak_macs(arch) * timing.cycles) if timing.cycles else 0.0,
        "dram_bytes": timing.bytes["dram"],
        "compulsory_dram_bytes": network_compulsory_bytes(compiled),
        "roofline_bound_cycles": bound,
        "roofline_bound": kind,
        "roofline_ratio": round(timing.cycles / bound, 3) if bound else None,
        "host_cycles": timing.host_cycles,
        "instructions": timing.instructions,
        "energy_pj": timing.energy_pj,
        "stalls": timing.stalls,
        "layers": layers,
    }
