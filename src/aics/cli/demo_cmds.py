"""``aics demo``: the end-to-end main job on bundled data (what ``make demo`` runs)."""

from __future__ import annotations

import typer
from rich.table import Table

from aics.cli.common import console

DEMO_MODELS = ("lenet5", "resnet50", "mobilenet_v2", "shufflenet_v2_x1_0", "vit_tiny")


def demo_cmd() -> None:
    """Analyse a few zoo models (later steps extend this into train -> quantize -> compile -> simulate)."""
    from aics.analysis.analyze import analyze
    from aics.models import load_graph

    table = Table(title="aics demo: model analysis (shapes only, meta device)")
    for col in ("model", "input", "params", "MACs", "neurons", "MAC/byte"):
        table.add_column(col, justify="left" if col in ("model", "input") else "right")
    for name in DEMO_MODELS:
        a = analyze(load_graph(name))
        t = a.total
        table.add_row(name, "x".join(map(str, a.input_shapes[0])), f"{t.params:,}", f"{t.macs:,}",
                      f"{t.neurons:,}", f"{t.intensity:.1f}")
    console().print(table)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
