"""Roofline of an arch with every layer and every whole network as a point (exercises 6.10, 6.13).

x is arithmetic intensity, MACs per DRAM byte actually moved (as the simulator counts them); y is
the achieved rate, GMAC/s (MACs / simulated cycles x frequency). The roof is
``min(peak, bandwidth x intensity)`` with the chip's peak (all cores, fastest dtype) and the DRAM
bandwidth, so the ridge point (where the two meet) is at ``peak / bandwidth`` MAC/B. When the arch
has a SharedRAM, its link bandwidth (all cores) is drawn as a second, on-chip roof.

Layers without MACs (pooling, adds, copies) have no place on a MAC roofline and are listed in
``Roofline.skipped`` instead; so are layers that moved no DRAM byte (infinite intensity).
The data object is returned separately from the figure so tests and the HTML report can check and
reuse the numbers without parsing an image.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Sequence

from aics.errors import AicsError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from aics.viz.profile import Profile

FORMATS = (".png", ".svg", ".pdf")


@dataclass(frozen=True)
class RooflinePoint:
    label: str
    model: str
    kind: Literal["layer", "network"]
    op: str
    macs: int
    dram_bytes: int
    cycles: int
    intensity: float  # MAC / DRAM byte
    gmacs: float  # achieved GMAC/s


@dataclass(frozen=True)
class Roofline:
    """The roofs of one arch and the points of one or more models measured on it."""

    arch: str
    peak_gmacs: float  # whole chip
    dram_gbps: float
    onchip_gbps: float | None  # SharedRAM links of all cores; None without a SharedRAM
    points: tuple[RooflinePoint, ...]
    skipped: tuple[str, ...]  # "model/layer (why)"

    @property
    def ridge(self) -> float:
        """Intensity (MAC/B) where the DRAM roof meets the compute roof: peak / bandwidth."""
        return self.peak_gmacs / self.dram_gbps

    def attainable(self, intensity: float) -> float:
        """The roof at ``intensity``: the best GMAC/s any schedule could reach there."""
        return min(self.peak_gmacs, self.dram_gbps * intensity)

    @property
    def layers(self) -> list[RooflinePoint]:
        return [p for p in self.points if p.kind == "layer"]

    @property
    def networks(self) -> list[RooflinePoint]:
        return [p for p in self.points if p.kind == "network"]


def roofline_data(profiles: Sequence[Profile]) -> Roofline:
    """Points of every layer with MACs and of every whole network, all on the first profile's arch."""
    if not profiles:
        raise AicsError("roofline: no model given")
    arch = profiles[0].arch
    for p in profiles[1:]:
        if p.arch != arch:
            raise AicsError(f"roofline: {p.model} ran on {p.arch.name}, not {arch.name}: one arch per plot")
    ghz = arch.frequency_ghz
    points: list[RooflinePoint] = []
    skipped: list[str] = []
    for p in profiles:
        for layer in p.layers:
            where = f"{p.model}/{layer['name']}"
            if not layer["macs"]:
                skipped.append(f"{where} (no MACs)")
            elif not layer["dram_bytes"] or not layer["cycles"]:
                skipped.append(f"{where} (no DRAM traffic)")
            else:
                points.append(_point(layer["name"], p.model, "layer", layer["op"], layer["macs"],
                                     layer["dram_bytes"], layer["cycles"], ghz))
        r = p.report
        if r["macs"] and r["dram_bytes"] and r["cycles"]:
            points.append(_point(p.model, p.model, "network", "network", r["macs"], r["dram_bytes"],
                                 r["cycles"], ghz))
        else:
            skipped.append(f"{p.model} (network without MACs or DRAM traffic)")
    onchip = None
    if arch.memory.sram_kib > 0 and arch.memory.sram_bandwidth_gbps > 0:
        onchip = arch.memory.sram_bandwidth_gbps * arch.cores
    return Roofline(arch.name, arch.peak_gmacs, arch.dram.bandwidth_gbps, onchip, tuple(points), tuple(skipped))


def _point(label: str, model: str, kind: Literal["layer", "network"], op: str, macs: int, nbytes: int,
           cycles: int, ghz: float) -> RooflinePoint:
    return RooflinePoint(label, model, kind, op, macs, nbytes, cycles, macs / nbytes, macs / cycles * ghz)


def roofline_figure(data: Roofline, label_layers: bool | None = None) -> Figure:
    """The plot: log-log roofs, one colour per model, small dots for layers, big stars for networks.

    Artists carry ``gid``s (``roof-dram``, ``roof-compute``, ``roof-onchip``, ``ridge``,
    ``layers:MODEL``, ``network:MODEL``) so a test can find exactly what was drawn.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.5, 5.5), layout="constrained")
    ax = fig.add_subplot()
    xs = [p.intensity for p in data.points] + [data.ridge]
    lo, hi = min(xs) / 4, max(xs) * 4
    ax.plot([lo, data.ridge], [data.dram_gbps * lo, data.peak_gmacs], color="black", lw=2, gid="roof-dram",
            label=f"DRAM {data.dram_gbps:g} GB/s")
    ax.plot([data.ridge, hi], [data.peak_gmacs, data.peak_gmacs], color="black", lw=2, ls="-",
            gid="roof-compute", label=f"peak {data.peak_gmacs:g} GMAC/s")
    if data.onchip_gbps:
        knee = data.peak_gmacs / data.onchip_gbps
        ax.plot([min(lo, knee), knee], [data.onchip_gbps * min(lo, knee), data.peak_gmacs], color="gray",
                ls="--", lw=1.5, gid="roof-onchip", label=f"SharedRAM {data.onchip_gbps:g} GB/s")
    ax.axvline(data.ridge, color="gray", ls=":", lw=1, gid="ridge")
    ax.text(data.ridge, 0.02, f" ridge {data.ridge:.3g} MAC/B", transform=ax.get_xaxis_transform(), fontsize=8,
            color="dimgray")
    models = list(dict.fromkeys(p.model for p in data.points))
    if label_layers is None:
        label_layers = len(data.layers) <= 24
    colors = [f"C{i % 10}" for i in range(len(models))]
    for model, color in zip(models, colors):
        layers = [p for p in data.layers if p.model == model]
        if layers:
            ax.scatter([p.intensity for p in layers], [p.gmacs for p in layers], s=22, color=color, alpha=0.75,
                       gid=f"layers:{model}", label=f"{model} layers", zorder=3)
            for p in layers if label_layers else ():
                ax.annotate(p.label, (p.intensity, p.gmacs), xytext=(3, 3), textcoords="offset points",
                            fontsize=6, color=color)
        for p in (q for q in data.networks if q.model == model):
            ax.scatter([p.intensity], [p.gmacs], s=180, marker="*", color=color, edgecolors="black",
                       gid=f"network:{model}", label=f"{model} (network)", zorder=4)
            ax.annotate(model, (p.intensity, p.gmacs), xytext=(6, 6), textcoords="offset points",
                        fontsize=9, fontweight="bold")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ys = [p.gmacs for p in data.points] + [data.dram_gbps * lo]
    ax.set_ylim(min(ys) / 2, data.peak_gmacs * 2)
    ax.set_xlabel("arithmetic intensity (MAC / DRAM byte)")
    ax.set_ylabel("achieved GMAC/s")
    ax.set_title(f"Roofline on {data.arch}")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def figure_bytes(fig: Figure, fmt: str = "png", dpi: int = 110) -> bytes:
    """The figure encoded as ``fmt`` with no metadata (no creator URL inside the file)."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, metadata={"Software": None} if fmt == "png" else {"Creator": None})
    return buf.getvalue()


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` as PNG, SVG or PDF (by suffix), atomically; ``AicsError`` for another suffix."""
    out = Path(path)
    if out.suffix.lower() not in FORMATS:
        raise AicsError(f"{out}: unknown plot format '{out.suffix}' (use {', '.join(FORMATS)})")
    data = figure_bytes(fig, out.suffix.lower()[1:])
    tmp = out.with_name(out.name + ".tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, out)
    except OSError as err:
        raise AicsError(f"cannot write '{out}': {err.strerror or err}") from None
    return out
