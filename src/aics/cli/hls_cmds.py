"""``aics hls``: emit an HLS C project for an int8 or fixed-point network, estimate it per layer
and, with --csim, check it bit for bit against the integer reference."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from aics.cli.common import Format, console, print_json


def hls_cmd(
    model: str = typer.Argument(..., help="zoo name, checkpoint .pt, model.onnx or a quantized IR .json"),
    output: Path = typer.Option(..., "--output", "-o", help="directory of the C project to write"),
    quant: Optional[str] = typer.Option(None, "--quant",
                                        help="int8 (default) or fixed:Q2.6[:wrap|:sat][:trn|:rnd]; not for an IR .json"),
    csim: bool = typer.Option(False, "--csim", help="compile with the system C compiler and compare with the reference"),
    vectors: int = typer.Option(1, "--vectors", min=1, help="seeded input vectors for --csim"),
    seed: int = typer.Option(0, "--seed", help="seed of calibration and --csim inputs"),
    input_size: Optional[int] = typer.Option(None, "--input-size", help="image side for zoo models (e.g. 32)"),
    force: bool = typer.Option(False, "--force", help="replace OUTPUT if it exists and is not empty"),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table or json"),
) -> None:
    """Emit MODEL as a C99 HLS project in OUTPUT (one function per layer, const weights, pragmas,
    top function aics_top, testbench, Makefile) and print the per-layer estimate."""
    from aics.backends.hls import build_project, check_outdir, csim as run_csim, estimate, seeded_inputs, write_project
    from aics.backends.hls.project import describe_quant
    from aics.backends.hls.prepare import prepare_graph

    check_outdir(output, force)
    graph = prepare_graph(model, quant, input_size, seed)
    project = build_project(graph)
    write_project(project, output, force)
    est = estimate(project)
    report: dict[str, object] = {"model": model, "quant": describe_quant(graph), "output": str(output),
                                 "files": sorted(project.files), "estimate": est.to_dict()}
    if csim:
        report["csim"] = run_csim(project, output, seeded_inputs(graph, vectors, seed)).to_dict()
    (output / "estimate.json").write_text(_json(report["estimate"]))
    if format == Format.json:
        print_json(report)
        return
    table = Table(title=f"aics hls {model} ({report['quant']}): estimate at II=1")
    for col in ("layer", "op", "cycles", "DSP", "memory bits"):
        table.add_column(col, justify="left" if col in ("layer", "op") else "right")
    for e in est.layers:
        table.add_row(e.name, e.op, f"{e.cycles:,}", str(e.dsp), f"{e.memory_bits:,}")
    table.add_row("total", "", f"{est.cycles:,}", str(est.dsp), f"{est.memory_bits:,}")
    console().print(table)
    if csim:
        typer.echo(f"csim: {_json(report['csim'])}")
    typer.echo(f"wrote {output}")


def _json(obj: object) -> str:
    import json

    return json.dumps(obj, indent=2)


def register(app: typer.Typer) -> None:
    app.command("hls")(hls_cmd)
