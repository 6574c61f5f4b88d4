"""``aics arch list|show`` and ``aics scalesim``: the arch presets, and a drop-in for SCALE-Sim."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from aics.cli.common import console, print_json


class ReportFormat(str, Enum):
    table = "table"
    json = "json"


class TopologyType(str, Enum):
    conv = "conv"
    gemm = "gemm"


def list_cmd() -> None:
    """List the arch presets: cores, array, dataflow, peak rate, memories, DRAM bandwidth."""
    from aics.dlp.arch_io import load_arch, preset_names

    table = Table(title="aics arch presets (aics arch show NAME prints one)")
    for col in ("name", "cores", "array", "dataflow", "peak GMAC/s", "NRAM KiB", "WRAM KiB",
                "SRAM KiB", "DRAM GB/s"):
        table.add_column(col, justify="left" if col in ("name", "array", "dataflow") else "right")
    for name in preset_names():
        arch = load_arch(name)
        m, mem = arch.matrix, arch.memory
        dtype = arch.peak_macs_per_cycle()[1]
        ideal = ", ".join(f"{r} {d}" for d, r in sorted(m.macs_per_cycle.items()))
        array = f"{m.rows}x{m.cols}" if m.kind == "systolic" else f"ideal {ideal} MAC/cycle"
        table.add_row(name, str(arch.cores), array, m.dataflow if m.kind == "systolic" else "-",
                      f"{arch.peak_gmacs:,.1f} {dtype}", f"{mem.nram_kib:,}", f"{mem.wram_kib:,}",
                      f"{mem.sram_kib:,}", f"{arch.dram.bandwidth_gbps:g}")
    console().print(table)


def show_cmd(
    arch: str = typer.Argument(..., help="preset name, arch .toml file or SCALE-Sim .cfg file"),
    overrides: Optional[List[str]] = typer.Option(
        None, "--set", help="FIELD=VALUE override, repeatable, e.g. --set matrix.rows=64"),
) -> None:
    """Print the resolved arch as TOML (defaults filled in, overrides applied)."""
    from aics.dlp.arch_io import arch_to_toml, load_arch, parse_override, with_overrides

    resolved = load_arch(arch)
    if overrides:
        resolved = with_overrides(resolved, dict(parse_override(o) for o in overrides))
    typer.echo(arch_to_toml(resolved), nl=False)


def scalesim_cmd(
    config: Path = typer.Option(..., "--config", "-c", help="SCALE-Sim .cfg file"),
    topology: Path = typer.Option(..., "--topology", "-t", help="SCALE-Sim topology .csv"),
    input_type: TopologyType = typer.Option(TopologyType.conv, "--input-type", "-i",
                                            help="conv or gemm (M, N, K rows)"),
    outdir: Optional[Path] = typer.Option(
        None, "--outdir", "-o", "-p", help="write OUTDIR/COMPUTE_REPORT.csv (none if omitted)"),
    format: ReportFormat = typer.Option(ReportFormat.table, "--format", "-f", help="table or json"),
    _layout: Optional[Path] = typer.Option(
        None, "--layout", "-l", help="accepted for SCALE-Sim compatibility; layouts are ignored"),
) -> None:
    """SCALE-Sim's compute cycles per layer, from our closed-form systolic model.

    COMPUTE_REPORT.csv follows SCALE-Sim's conventions (Total Cycles = cycles - 1).
    JSON prints our cycles, and utilization as a fraction of the array's peak.
    """
    from aics.dlp.scalesim_io import (compute_report, is_user_bandwidth, layer_cost,
                                      load_scalesim_cfg, load_topology, write_compute_report)

    arch = load_scalesim_cfg(config)
    layers = load_topology(topology, input_type.value)
    costs = [layer_cost(arch.matrix, layer) for layer in layers]
    report = compute_report(arch, layers)
    if outdir is not None:
        write_compute_report(report, outdir)
    if is_user_bandwidth(config):
        print("aics: note: USER-mode DRAM stalls are not modelled; Stall Cycles = 0 "
              "(use `aics asm`/the DLP simulator for memory-bound timing)", file=sys.stderr)
    total = sum(c.cycles for c in costs)
    if format == ReportFormat.json:
        print_json({"layers": [{"name": layer.name, "compute_cycles": cost.cycles,
                                "utilization": cost.compute_util}
                               for layer, cost in zip(layers, costs)],
                    "total_cycles": total})
        return
    m = arch.matrix
    table = Table(title=f"{topology.name} on {m.rows}x{m.cols} {m.dataflow} ({arch.name})")
    for col in ("layer", "M (pixels)", "K (window)", "N (filters)", "folds", "cycles",
                "SCALE-Sim Total Cycles", "util %"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for layer, cost in zip(layers, costs):
        mm, k, n = layer.gemm()
        splits = f" x{layer.splits}" if layer.splits > 1 else ""
        table.add_row(layer.name, f"{mm:,}", f"{k:,}{splits}", f"{n:,}", f"{cost.folds:,}",
                      f"{cost.cycles:,}", f"{cost.cycles - layer.splits:,}",
                      f"{100 * cost.compute_util:.1f}")
    table.add_row("total", "", "", "", "", f"{total:,}", f"{total - sum(l.splits for l in layers):,}",
                  f"{100 * sum(c.macs for c in costs) / (m.rows * m.cols * total):.1f}")
    console().print(table)


def register(app: typer.Typer) -> None:
    arch_app = typer.Typer(help="Architecture presets and files.", no_args_is_help=True)
    arch_app.command("list")(list_cmd)
    arch_app.command("show")(show_cmd)
    app.add_typer(arch_app, name="arch")
    app.command("scalesim")(scalesim_cmd)
