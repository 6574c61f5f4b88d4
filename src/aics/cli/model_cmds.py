"""``aics zoo`` and ``aics summary``: list the zoo, analyse a model."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from aics.cli.common import Format, console, print_json, shape_option


def zoo_cmd(format: Format = typer.Option(Format.table, "--format", "-f", help="table or json")) -> None:
    """List the model zoo: name, default input shape, description."""
    from aics.zoo import MODELS

    if format == Format.json:
        print_json([{"name": e.name, "input_shape": list(e.input_shape), "description": e.description}
                    for e in MODELS.values()])
        return
    table = Table(title=f"aics model zoo ({len(MODELS)} models)")
    for col in ("name", "input", "description"):
        table.add_column(col)
    for e in MODELS.values():
        table.add_row(e.name, "x".join(map(str, e.input_shape)), e.description)
    console().print(table)


def summary_cmd(
    model: str = typer.Argument(..., help="zoo name, path/to/file.py:factory, or path/to/model.onnx"),
    input_shape: Optional[str] = typer.Option(None, "--input-shape", "-i", help="e.g. 1x3x224x224"),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table, csv, json or md"),
    all_layers: bool = typer.Option(False, "--all", help="JSON: include layers that do no arithmetic"),
) -> None:
    """Per-layer parameters, MACs, mults, adds, neurons, bytes and arithmetic intensity."""
    from aics.analysis import report
    from aics.analysis.analyze import analyze
    from aics.models import load_graph

    analysis = analyze(load_graph(model, shape_option(input_shape)))
    if format == Format.json:
        print_json(report.to_dict(analysis, skip_free=not all_layers))
    elif format == Format.csv:
        typer.echo(report.to_csv(analysis), nl=False)
    elif format == Format.md:
        typer.echo(report.to_markdown(analysis), nl=False)
    else:
        console().print(report.to_table(analysis))


def register(app: typer.Typer) -> None:
    app.command("zoo")(zoo_cmd)
    app.command("summary")(summary_cmd)
