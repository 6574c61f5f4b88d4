"""``aics demo``: the end-to-end main job on bundled data (what ``make demo`` runs).

Analyse a few zoo models; train LeNet-5 on scikit-learn's digits; quantize it to int8 with the
integer reference as the judge. The artefacts land in ``--out`` (default ``out/demo``).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from aics.cli.common import console

DEMO_MODELS = ("lenet5", "resnet50", "mobilenet_v2", "shufflenet_v2_x1_0", "vit_tiny")


def _analysis_table() -> Table:
    from aics.analysis.analyze import analyze
    from aics.models import load_graph

    table = Table(title="1. model analysis (shapes only, meta device)")
    for col in ("model", "input", "params", "MACs", "neurons", "MAC/byte"):
        table.add_column(col, justify="left" if col in ("model", "input") else "right")
    for name in DEMO_MODELS:
        a = analyze(load_graph(name))
        t = a.total
        table.add_row(name, "x".join(map(str, a.input_shapes[0])), f"{t.params:,}", f"{t.macs:,}",
                      f"{t.neurons:,}", f"{t.intensity:.1f}")
    return table


def demo_cmd(out: Path = typer.Option(Path("out/demo"), "--out", "-o", help="where the artefacts go"),
             epochs: int = typer.Option(20, help="LeNet-5 training epochs")) -> None:
    """Analyse zoo models, train LeNet-5 on digits, quantize it to int8 and score both."""
    from aics import checkpoint
    from aics.compress.quant.workflow import load_subject, quantize_subject
    from aics.ir.serialize import save
    from aics.train import TrainConfig, train_model

    con = console()
    con.print(_analysis_table())
    out.mkdir(parents=True, exist_ok=True)
    ckpt, trained = train_model("lenet5", "digits", TrainConfig(epochs=epochs), input_size=32, progress=False)
    ckpt_path = out / "lenet5.pt"
    checkpoint.save(ckpt, ckpt_path)
    result = quantize_subject(load_subject(str(ckpt_path)))
    qpath = out / "lenet5.q.json"
    save(result.graph, qpath)
    table = Table(title="2. LeNet-5 on digits (360 test images): train, then int8 PTQ")
    for col in ("step", "test accuracy", "artefact"):
        table.add_column(col)
    table.add_row(f"train {epochs} epochs ({trained.seconds:.1f} s)", f"{trained.accuracy:.2%}", str(ckpt_path))
    table.add_row("float32 (reference)", f"{result.float_accuracy:.2%}", "")
    table.add_row("int8 (integer reference)", f"{result.quant_accuracy:.2%}", str(qpath))
    con.print(table)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
