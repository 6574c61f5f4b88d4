"""Per-layer latency and resource estimate of an emitted project, read off its own pragmas.

Each layer's pipelined loops (``Layer.loops``) run with II=1: a loop entered ``outer`` times with
``inner`` iterations costs ``outer * (inner + DEPTH)`` cycles (fill/drain of a DEPTH-stage
pipeline, plus the loop's exit). Layers run one after another (no DATAFLOW), so the network's
latency is their sum. DSPs: one per multiplier of the busiest pipelined body (an 8x8 or 16x8
multiply fits one DSP48). On-chip memory: the layer's constants (weights, biases, multipliers,
tables), its line buffer and its output buffer, in bits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from aics.backends.hls.project import HlsProject

DEPTH = 4  # pipeline stages of a MAC loop body: read, multiply, accumulate, write back


@dataclass(frozen=True)
class LayerEstimate:
    name: str
    op: str
    cycles: int
    dsp: int
    const_bits: int
    buffer_bits: int  # line buffer + output activations

    @property
    def memory_bits(self) -> int:
        return self.const_bits + self.buffer_bits


@dataclass(frozen=True)
class Estimate:
    layers: tuple[LayerEstimate, ...]

    @property
    def cycles(self) -> int:
        return sum(e.cycles for e in self.layers)

    @property
    def dsp(self) -> int:
        return sum(e.dsp for e in self.layers)

    @property
    def memory_bits(self) -> int:
        return sum(e.memory_bits for e in self.layers)

    def to_dict(self) -> dict[str, object]:
        return {"layers": [{**asdict(e), "memory_bits": e.memory_bits} for e in self.layers],
                "total": {"cycles": self.cycles, "dsp": self.dsp, "memory_bits": self.memory_bits},
                "model": {"depth": DEPTH, "ii": 1, "layers_overlap": False}}


def estimate(project: HlsProject) -> Estimate:
    rows = []
    for e in project.layers:
        cycles = sum(loop.outer * (loop.inner + DEPTH) for loop in e.layer.loops)
        dsp = max((loop.mults for loop in e.layer.loops), default=0)
        out_bits = e.out.size * int(e.out.ctype[3:-2])
        rows.append(LayerEstimate(e.node.name, e.node.op, cycles, dsp, e.const_bits, e.layer.buffer_bits + out_bits))
    return Estimate(tuple(rows))
