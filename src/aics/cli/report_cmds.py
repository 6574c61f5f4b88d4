"""``aics roofline``, ``aics sweep`` and ``aics report``: what architects and students look at."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import typer

from aics.cli.common import Format, print_json, shape_option

_ARCH = typer.Option(..., "--arch", "-a", help="arch preset name, TOML or SCALE-Sim .cfg file")
_QUANT = typer.Option("int8", "--quant", help="numerics of the program: int8 (fp32 / fixed: not yet)")
_CALIB = typer.Option("random", "--calib", help="calibration data: random (seeded) or digits")
_SHAPE = typer.Option(None, "--input-shape", help="override the input shape, e.g. 1x3x64x64")
_TRACE_HELP = "write the Chrome/Perfetto trace of the run (JSON)"


def _trace_path(trace: Optional[Path], model: str, several: bool) -> Optional[Path]:
    """One trace per model: with several models, the model name goes before the suffix."""
    if trace is None or not several:
        return trace
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(model).name)
    return trace.with_name(f"{trace.stem}.{safe}{trace.suffix or '.json'}")


def roofline_cmd(
    models: list[str] = typer.Argument(..., help="one or more models (zoo name, file.py:factory, .onnx, .pt, .json)"),
    arch: str = _ARCH, quant: str = _QUANT, calib: str = _CALIB, input_shape: Optional[str] = _SHAPE,
    output: Path = typer.Option(..., "--output", "-o", help="plot to write: .png, .svg or .pdf"),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table or json (the plotted points)"),
    trace: Optional[Path] = typer.Option(None, "--trace", help=_TRACE_HELP + "; MODEL is added with several"),
) -> None:
    """Plot ARCH's roofline with every layer of each MODEL and each whole network as a point."""
    from aics.compiler.workflow import quantized_model
    from aics.dlp.arch_io import load_arch
    from aics.viz.profile import profile
    from aics.viz.roofline import FORMATS, roofline_data, roofline_figure, save_figure
    from aics.errors import AicsError

    if output.suffix.lower() not in FORMATS:  # before minutes of work
        raise AicsError(f"{output}: unknown plot format '{output.suffix}' (use {', '.join(FORMATS)})")
    machine = load_arch(arch)
    profiles = [profile(quantized_model(m, quant, shape_option(input_shape), calib), machine, m,
                        _trace_path(trace, m, len(models) > 1)) for m in models]
    data = roofline_data(profiles)
    if not data.points:
        raise AicsError("roofline: no layer with MACs and DRAM traffic to plot")
    save_figure(roofline_figure(data), output)
    info: dict[str, Any] = {
        "arch": data.arch, "peak_gmacs": data.peak_gmacs, "dram_gbps": data.dram_gbps,
        "onchip_gbps": data.onchip_gbps, "ridge_mac_per_byte": data.ridge, "output": str(output),
        "points": [{"label": p.label, "model": p.model, "kind": p.kind, "op": p.op, "macs": p.macs,
                    "dram_bytes": p.dram_bytes, "cycles": p.cycles, "intensity": p.intensity, "gmacs": p.gmacs,
                    "attainable_gmacs": data.attainable(p.intensity)} for p in data.points],
        "skipped": list(data.skipped),
    }
    if format == Format.json:
        print_json(info)
        return
    typer.echo(f"roofline of {', '.join(models)} on {data.arch}: peak {data.peak_gmacs:g} GMAC/s, DRAM "
               f"{data.dram_gbps:g} GB/s, ridge {data.ridge:.3g} MAC/B; {len(data.layers)} layers + "
               f"{len(data.networks)} networks plotted -> {output}")
    for p in data.networks:
        typer.echo(f"  {p.model}: {p.intensity:.3g} MAC/B, {p.gmacs:.3g} GMAC/s "
                   f"({100 * p.gmacs / data.attainable(p.intensity):.0f} % of the roof there)")


def sweep_cmd(
    models: list[str] = typer.Argument(..., help="one or more models"),
    arch: str = typer.Option(..., "--arch", "-a", help="base arch: preset name or TOML file"),
    settings: list[str] = typer.Option([], "--set", "-s",
                                       help="FIELD=V1,V2,...: a swept arch field (repeat for a cartesian product)"),
    output: Path = typer.Option(..., "--output", "-o", help="CSV of results; points already in it are skipped"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="plot utilization and latency vs the first field"),
    jobs: int = typer.Option(0, "--jobs", "-j", help="local processes (0: one per CPU)"),
    ray: Optional[str] = typer.Option(None, "--ray", help="run points as Ray tasks on this cluster (HOST:PORT)"),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table, json or csv (the results)"),
) -> None:
    """Compile and time MODEL(s) at every point of a cartesian product of arch settings."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from aics.dlp.arch_io import load_arch
    from aics.errors import AicsError
    from aics.viz.roofline import FORMATS, save_figure
    from aics.viz.sweep import parse_axis, run_sweep, sweep_figure

    axes = [parse_axis(text) for text in settings]
    if plot is not None and plot.suffix.lower() not in FORMATS:
        raise AicsError(f"{plot}: unknown plot format '{plot.suffix}' (use {', '.join(FORMATS)})")
    if plot is not None and not axes:
        raise AicsError("--plot needs at least one --set to put on the x axis")
    base = load_arch(arch)
    workers = jobs or (os.cpu_count() or 1)
    err_console = Console(stderr=True)
    with Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=err_console, transient=True,
                  disable=not err_console.is_terminal) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, point: Any) -> None:
            last = "" if point is None else f"{point.model} " + " ".join(f"{k}={v}" for k, v in point.settings)
            bar.update(task, completed=done, total=total, description=last)

        result = run_sweep(models, base, axes, output, jobs=workers, ray_address=ray, progress=progress)
    if plot is not None:
        save_figure(sweep_figure(result.rows, axes), plot)
    if format == Format.json:
        print_json({"output": str(result.path), "computed": result.computed, "skipped": result.skipped,
                    "rows": result.rows})
        return
    if format == Format.csv:
        typer.echo(result.path.read_text(encoding="utf-8"), nl=False)
        return
    _sweep_table(result, axes)
    failed = sum(1 for r in result.rows if r["error"])
    typer.echo(f"{len(result.rows)} points ({result.computed} run now, {result.skipped} already in the CSV"
               + (f", {failed} could not compile" if failed else "") + f") -> {result.path}"
               + (f", plot -> {plot}" if plot else ""))


def _sweep_table(result: Any, axes: list[Any]) -> None:
    from rich.table import Table

    from aics.cli.common import console

    table = Table()
    cols = ["model", *(a.field for a in axes), "cycles", "utilization", "energy_pj", "dram_bytes"]
    for col in cols:
        table.add_column(col, justify="left" if col == "model" else "right")
    for row in result.rows:
        if row["error"]:
            table.add_row(row["model"], *(row[a.field] for a in axes), "[red]error[/red]", "", "", "")
            continue
        table.add_row(row["model"], *(row[a.field] for a in axes), f"{int(row['cycles']):,}",
                      f"{100 * float(row['utilization']):.1f} %", f"{float(row['energy_pj']):.4g}",
                      f"{int(row['dram_bytes']):,}")
    console().print(table)


def report_cmd(
    model: str = typer.Argument(..., help="zoo name, file.py:factory, .onnx, checkpoint .pt or quantized IR .json"),
    arch: str = _ARCH, quant: str = _QUANT, calib: str = _CALIB, input_shape: Optional[str] = _SHAPE,
    output: Path = typer.Option(..., "--output", "-o", help="HTML file to write"),
    trace: Optional[Path] = typer.Option(None, "--trace", help=_TRACE_HELP),
) -> None:
    """Write a self-contained HTML report: summary, per-layer table, roofline, unit timeline, energy."""
    from aics.compiler.workflow import quantized_model
    from aics.dlp.arch_io import load_arch
    from aics.viz.report import report_for, write_html

    machine = load_arch(arch)
    qgraph = quantized_model(model, quant, shape_option(input_shape), calib)
    prof, text = report_for(qgraph, machine, model, trace)
    write_html(text, output)
    r = prof.report
    typer.echo(f"report of {model} on {machine.name}: {r['cycles']:,} cycles, utilization "
               f"{100 * r['utilization']:.1f} %, {len(r['layers'])} layers -> {output}")


def register(app: typer.Typer) -> None:
    app.command("roofline")(roofline_cmd)
    app.command("sweep")(sweep_cmd)
    app.command("report")(report_cmd)
