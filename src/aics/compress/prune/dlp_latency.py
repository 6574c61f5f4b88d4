"""Latency on the simulated DLP for NetAdapt: a per-layer lookup table built from the simulator.

NetAdapt (Yang et al., ECCV 2018) ranks proposals by measured latency, but measuring every proposal
end to end is what makes it slow, so the paper keeps a lookup table of per-layer latencies and
sums it. Here the "measurement" is our compiler + timing simulator for one ``Arch``:

* a **layer** is one compiled DLP layer (a conv/linear with its fused requantise, activation and
  residual add, a pool, an unfused add, ...), named in ``Compiled.layers``;
* its **signature** is what its cost depends on: the layer's op string (with fused ops), the
  anchor node's op and attributes (kernel via the weight shape, stride, padding, dilation,
  groups), and its input, weight and output shapes (channels and spatial size);
* its **table entry** is its *marginal* cycles in the simulated network, ``end_i - end_{i-1}``: the
  next layer's weight loads overlap the previous layer's compute (one core, no barrier), so the
  windows ``end - start`` would overcount, while the marginal cycles add up to the network's
  total exactly. Every compiled layer has an entry, host-CPU layers included (their marginal
  cycles are the host model's time), so there is no non-table remainder.

``graph_latency_ms`` sums the table from the IR alone (shapes suffice: a pruned graph from
``apply.pruned_graph``) and, when a signature is missing, simulates that graph once (seeded random
weights and calibration: timing depends on weight values only through the compiler's sparse weight
encoding, which dense random weights never trigger beyond the structural zeros of block-diagonal
grouped-conv tiles; a model made sparse by magnitude pruning is faster than its table entry says) and records all of its layers. The
table is a JSON file per arch fingerprint and table version, so re-runs do not re-simulate.
``latency_ms(model)`` is the direct whole-network simulation (the ground truth the table
approximates; it also feeds the table).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from torch import nn

from aics.dlp.arch import Arch
from aics.errors import PruneError
from aics.ir.graph import Graph

TABLE_VERSION = 2  # bump when the table's format or keying changes (2: first observation stays)


@lru_cache(maxsize=1)
def engine_digest() -> str:
    """A hash of the compiler's and the DLP package's source: a table measured by another
    compiler or simulator is stale (tiling or timing changes move every entry), and the package
    version alone does not change while they are developed."""
    import aics.compiler
    import aics.dlp

    h = hashlib.sha256()
    for pkg in (aics.compiler, aics.dlp):
        root = Path(pkg.__file__).parent
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root)).encode("utf-8"))
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class LayerSpan:
    """One compiled layer as seen from the float graph: which node carries its shapes."""

    name: str  # the layer name the compiler reports (the tensor it writes)
    op: str  # the compiler's layer op, e.g. "conv2d+add"
    anchor: str  # the float-graph node whose op, attributes and shapes define the layer
    fused: tuple[str, ...]  # names of the fused nodes after the anchor (activations, residual add)


def default_cache_dir() -> Path:
    """``$AICS_CACHE_DIR`` or ``$XDG_CACHE_HOME/aics`` or ``~/.cache/aics``: never the working tree."""
    if os.environ.get("AICS_CACHE_DIR"):
        return Path(os.environ["AICS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aics"


class LatencyTable:
    """``signature -> marginal cycles`` for one arch, kept in memory and (optionally) on disk."""

    def __init__(self, arch: Arch, cache_dir: Path | str | None = None, keying: str = "next") -> None:
        from aics.dlp.program import arch_fingerprint

        self.arch = arch
        self.fingerprint = arch_fingerprint(arch)
        self.version = f"{TABLE_VERSION}/{keying}/{engine_digest()}"
        self.path = (Path(cache_dir) / f"netadapt-lut-{keying}-{arch.name}-{self.fingerprint[:16]}.json"
                     if cache_dir is not None else None)
        self.entries: dict[str, dict[str, float]] = {}
        self.structures: dict[str, list[LayerSpan]] = {}  # topology hash -> compiled layers
        self.hits = self.misses = 0
        self._load()

    def _load(self) -> None:
        entries, structures = self._read()
        self.entries.update(entries)
        self.structures.update(structures)

    def _read(self) -> tuple[dict[str, dict[str, float]], dict[str, list[LayerSpan]]]:
        """The file's entries, or nothing if there is none or it was measured by another engine."""
        if self.path is None or not self.path.exists():
            return {}, {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as err:
            raise PruneError(f"latency table {self.path} is unreadable ({err}); delete it to rebuild") from None
        if data.get("fingerprint") != self.fingerprint or data.get("version") != self.version:
            return {}, {}
        structures = {k: [LayerSpan(n, op, a, tuple(f)) for n, op, a, f in v]
                      for k, v in data.get("structures", {}).items()}
        return {k: dict(v) for k, v in data.get("entries", {}).items()}, structures

    def save(self) -> None:
        """Merge with what another process may have written since, then write atomically (a
        concurrent reader never sees half a file; concurrent writers lose no measurement twice)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entries, structures = self._read()
        for key, entry in entries.items():
            self.entries.setdefault(key, entry)
        for key, spans in structures.items():
            self.structures.setdefault(key, spans)
        data = {"arch": self.arch.name, "fingerprint": self.fingerprint, "version": self.version,
                "frequency_ghz": self.arch.frequency_ghz, "entries": self.entries,
                "structures": {k: [[sp.name, sp.op, sp.anchor, list(sp.fused)] for sp in v]
                               for k, v in self.structures.items()}}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=0, sort_keys=True)
        os.replace(tmp, self.path)

    def get(self, signature: str) -> float | None:
        entry = self.entries.get(signature)
        return None if entry is None else entry["cycles"]

    def put(self, signature: str, cycles: float) -> None:
        """Record an observation: the first one of a signature stays. Later contexts may measure it
        a little differently (activations kept on chip and list scheduling reach past the next
        layer), but an entry that never changes makes every answer the table gives a function of
        what it was asked before, so a run with a warm table takes the decisions the cold run took."""
        self.entries.setdefault(signature, {"cycles": float(cycles)})

    def __len__(self) -> int:
        return len(self.entries)


def signature(graph: Graph, span: LayerSpan) -> str:
    """The layer's table key from ``graph`` (a float or quantized IR with the same node names)."""
    node = graph[span.anchor]
    data = [graph[i].shape for i in node.inputs if graph[i].op != "const"]
    weight = graph[node.inputs[1]].shape if node.op in ("conv2d", "linear") else ()
    fused = "+".join(graph[n].op for n in span.fused)
    out = graph[span.name].shape
    return "|".join((span.op, node.op, fused, repr(node.attrs), _dims(*data), _dims(weight), _dims(out)))


def _dims(*shapes: tuple[int, ...]) -> str:
    return ",".join("x".join(str(d) for d in s) for s in shapes)


def _topology(graph: Graph) -> str:
    """A hash of what pruning keeps: node names, ops and wiring (shapes change, structure does not)."""
    text = repr(tuple((n.name, n.op, n.inputs) for n in graph.nodes))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def spans_of(compiled: object) -> list[LayerSpan]:
    """Map each compiled layer to its anchor node and fused nodes (from the fusion plan)."""
    from aics.reference.functions import UNARY

    graph = compiled.graph  # type: ignore[attr-defined]
    by_writes = {epi.writes: epi for epi in compiled.fusion.values()}  # type: ignore[attr-defined]
    names = {info.name for info in compiled.layers}  # type: ignore[attr-defined]
    spans = []
    for info in compiled.layers:  # type: ignore[attr-defined]
        epi = by_writes.get(info.name)
        if epi is not None:
            spans.append(LayerSpan(info.name, info.op, epi.anchor, tuple(epi.absorbed)))
            continue
        node = graph[info.name]
        first = graph[node.inputs[0]] if node.inputs else None
        if node.op in UNARY and first is not None and first.op in ("add", "sub") and first.name not in names:
            spans.append(LayerSpan(info.name, info.op, first.name, (node.name,)))  # add + activation
        else:
            spans.append(LayerSpan(info.name, info.op, info.name, ()))
    return spans


def random_weights(graph: Graph, seed: int = 0) -> Graph:
    """``graph`` with seeded random values for every const it lacks (timing ignores values).

    Vectors (biases, BN statistics) get values in [0.5, 1.5) so variances stay positive; weight
    tensors are scaled by 1/sqrt(fan-in) so calibration through deep nets stays finite."""
    rng = np.random.default_rng(seed)
    params = dict(graph.params)
    for node in graph.nodes:
        if node.op != "const" or node.name in params:
            continue
        if len(node.shape) <= 1:
            params[node.name] = rng.uniform(0.5, 1.5, node.shape).astype(np.float32)
        else:
            fan_in = max(1, int(np.prod(node.shape[1:])))
            params[node.name] = (rng.standard_normal(node.shape) / np.sqrt(fan_in)).astype(np.float32)
    return replace(graph, params=params)


class SimulatedLatency:
    """``LatencyModel`` and ``GraphLatencyModel`` on the DLP timing simulator for ``arch``.

    ``simulations`` counts simulator runs (tests assert that a cached table needs none);
    ``cache_dir=None`` keeps the table in memory only (library default: no side effects)."""

    def __init__(self, arch: Arch | str, cache_dir: Path | str | None = None, calib_size: int = 1,
                 seed: int = 0, context: bool = True) -> None:
        if isinstance(arch, str):
            from aics.dlp.arch_io import load_arch

            arch = load_arch(arch)
        self.arch = arch
        self.table = LatencyTable(arch, cache_dir, "next" if context else "layer")
        self.calib_size, self.seed, self.context = calib_size, seed, context
        self.simulations = 0

    def cycles_to_ms(self, cycles: float) -> float:
        return float(cycles) / (self.arch.frequency_ghz * 1e6)

    def latency_ms(self, model: nn.Module, input_shape: tuple[int, ...]) -> float:
        """Direct whole-network simulation of ``model`` as it is (its own weights)."""
        from aics.ir.torch_import import import_module

        return self.simulate_graph(import_module(model, tuple(input_shape)))

    def graph_latency_ms(self, graph: Graph) -> float:
        """The lookup-table estimate; simulates ``graph`` once only if a layer is missing (and
        then answers from the table it just filled)."""
        est = self.estimate_cycles(graph)
        if est is not None:
            self.table.hits += 1
            return self.cycles_to_ms(est)
        self.table.misses += 1
        direct = self.simulate_graph(graph)
        est = self.estimate_cycles(graph)  # what the table now says, as a warm run would hear it
        return direct if est is None else self.cycles_to_ms(est)

    def estimate_cycles(self, graph: Graph) -> float | None:
        """Sum of table entries over ``graph``'s layers, or None when a layer is not in the table
        (or the graph's topology has not been compiled yet)."""
        spans = self.table.structures.get(_topology(graph))
        if spans is None:
            return None
        total = 0.0
        for key in self._keys(graph, spans):
            cycles = self.table.get(key)
            if cycles is None:
                return None
            total += cycles
        return total

    def _keys(self, graph: Graph, spans: list[LayerSpan]) -> list[str]:
        """Table keys: each layer's signature, followed by the next layer's when ``context``."""
        sigs = [signature(graph, span) for span in spans]
        if not self.context:
            return sigs
        return [f"{sig} >> {nxt}" for sig, nxt in zip(sigs, [*sigs[1:], "end"])]

    def simulate_graph(self, graph: Graph) -> float:
        """Quantize (int8, seeded random calibration), compile, time; record every layer."""
        from aics.compiler.compile import compile_graph
        from aics.compress.quant import quantize_graph
        from aics.dlp import sim

        if graph.quant:
            qgraph = graph
        else:
            weighted = graph if graph.has_weights else random_weights(graph, self.seed)
            calib = np.random.default_rng(self.seed).standard_normal(
                (self.calib_size, *graph.inputs[0].shape[1:])).astype(np.float32)
            qgraph = quantize_graph(weighted, calib)
        compiled = compile_graph(qgraph, self.arch)
        timing = sim.run(compiled.program, self.arch, None, mode="timing").timing
        assert timing is not None
        self.simulations += 1
        try:
            spans = spans_of(compiled)
            keys = self._keys(graph, spans)
        except KeyError:  # a compiled layer with no node of that name in ``graph``: no table for it,
            return self.cycles_to_ms(timing.cycles)  # so every query of this topology simulates
        self.table.structures[_topology(graph)] = spans
        ends = {layer.name: layer.end for layer in timing.layers}
        previous = 0
        for span, key in zip(spans, keys):
            end = ends.get(span.name, previous)
            self.table.put(key, end - previous)
            previous = max(previous, end)
        self.table.save()
        return self.cycles_to_ms(timing.cycles)

    def layers(self, graph: Graph) -> list[tuple[str, str, float]]:
        """(layer, signature, table ms) for ``graph``, simulating it first if needed (for reports)."""
        if self.estimate_cycles(graph) is None:
            self.simulate_graph(graph)
        spans = self.table.structures[_topology(graph)]
        return [(span.name, key, self.cycles_to_ms(self.table.get(key) or 0.0))
                for span, key in zip(spans, self._keys(graph, spans))]

    def stats(self) -> dict[str, object]:
        """Table facts for reports: where it lives, its size, and how it was used."""
        return {"path": str(self.table.path) if self.table.path else None, "entries": len(self.table),
                "hits": self.table.hits, "misses": self.table.misses, "simulations": self.simulations}
