"""``aics train`` and ``aics quantize``: train a model on real data, quantize it and compare."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, List, Optional

import typer
from rich.table import Table

from aics.cli.common import Format, console, print_json, shape_option
from aics.errors import AicsError, QuantizationError

if TYPE_CHECKING:
    from aics.compress.quant.plan import QuantPlan


def train_cmd(
    model: str = typer.Argument(..., help="zoo name, path/to/file.py:factory, or a checkpoint .pt to fine-tune"),
    data: str = typer.Option("digits", "--data", help="dataset (digits: scikit-learn's bundled 8x8 digits)"),
    output: Path = typer.Option(..., "--output", "-o", help="checkpoint file to write (.pt)"),
    epochs: int = typer.Option(20, "--epochs", min=0, help="training epochs"),
    input_size: Optional[int] = typer.Option(None, "--input-size", help="upscale digits to 16, 28 or 32"),
    input_shape: Optional[str] = typer.Option(None, "--input-shape", help="for file.py:factory, e.g. 1x1x32x32"),
    seed: int = typer.Option(0, "--seed", help="seed of weight init and data order"),
    lr: float = typer.Option(2e-3, "--lr", help="peak learning rate (cosine decay)"),
    optimizer: str = typer.Option("adam", "--optimizer", help="adam or sgd"),
    batch_size: int = typer.Option(64, "--batch-size"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="progress bar on a terminal"),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table or json"),
) -> None:
    """Train MODEL on DATA (fixed split, deterministic) and save a self-describing checkpoint."""
    from aics import checkpoint
    from aics.train import TrainConfig, train_model

    config = TrainConfig(epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr, seed=seed)
    ckpt, result = train_model(model, data, config, input_size, shape_option(input_shape), progress)
    _write(output, lambda: checkpoint.save(ckpt, output))
    report = {"model": ckpt.model, "checkpoint": str(output), "input_shape": list(ckpt.input_shape),
              "epochs": epochs, "seed": seed, "accuracy": result.accuracy,
              "train_accuracy": result.train_accuracy, "final_loss": result.losses[-1] if result.losses else None,
              "seconds": round(result.seconds, 3)}
    if format == Format.json:
        print_json(report)
        return
    table = Table(title=f"aics train {model} on {data}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("input_shape", "epochs", "train_accuracy", "accuracy", "final_loss", "seconds"):
        value = report[key]
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console().print(table)
    typer.echo(f"wrote {output}")


def quantize_cmd(
    model: str = typer.Argument(..., help="checkpoint .pt (from aics train), model.onnx or zoo name"),
    output: Path = typer.Option(..., "--output", "-o", help="quantized IR file to write (.json)"),
    scheme: Optional[str] = typer.Option(None, "--scheme", help="int8, int16, int8:w4, fixed:Q2.6[:wrap|:sat]"),
    calib: Optional[str] = typer.Option(None, "--calib", help="minmax, percentile or mse"),
    data: str = typer.Option("digits", "--data", help="dataset for calibration and accuracy"),
    layers: Optional[List[str]] = typer.Option(None, "--layer", help="LAYER=SCHEME mixed precision, repeatable"),
    plan_file: Optional[Path] = typer.Option(None, "--plan", help="quantization plan (.toml or .json)"),
    save_plan_to: Optional[Path] = typer.Option(None, "--save-plan", help="write the resolved plan to replay"),
    qat_epochs: int = typer.Option(0, "--qat-epochs", min=0, help="quantization-aware training epochs (0: PTQ)"),
    calib_size: Optional[int] = typer.Option(None, "--calib-size", help="calibration examples (default 512)"),
    input_size: Optional[int] = typer.Option(None, "--input-size", help="digits side for zoo/ONNX models"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="progress bar on a terminal"),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table or json"),
) -> None:
    """Quantize MODEL (PTQ, or QAT with --qat-epochs) and print float vs quantized test accuracy,
    the latter from the integer reference executor."""
    from aics.compress.quant.plan import QuantPlan, load_plan, save_plan
    from aics.compress.quant.workflow import load_subject, quantize_subject
    from aics.ir.serialize import save

    plan = load_plan(plan_file) if plan_file else QuantPlan()
    plan = _override(plan, scheme, calib, calib_size, layers or [])
    subject = load_subject(model, data, input_size)
    result = quantize_subject(subject, plan, qat_epochs, progress=progress)
    _write(output, lambda: save(result.graph, output))
    if save_plan_to:
        _write(save_plan_to, lambda: save_plan(plan, save_plan_to))
    report = {"model": model, "scheme": plan.default, "calib": plan.calib, "layers": dict(plan.layers),
              "qat_epochs": qat_epochs, "float_accuracy": result.float_accuracy,
              "quant_accuracy": result.quant_accuracy,
              "drop_points": round(100 * (result.float_accuracy - result.quant_accuracy), 2),
              "output": str(output), "seconds": round(result.seconds, 3)}
    if format == Format.json:
        print_json(report)
        return
    qat = f", QAT {qat_epochs} epochs" if qat_epochs else ""
    table = Table(title=f"{model} on {data}: calibration {plan.calib}{qat}")
    for col in ("numerics", "test accuracy", "drop (points)"):
        table.add_column(col, justify="left" if col == "numerics" else "right")
    table.add_row("float32 (PyTorch)" if subject.module is not None else "float32 (reference)",
                  f"{100 * result.float_accuracy:.2f} %", "")
    mixed = f" + {len(plan.layers)} layer override(s)" if plan.layers else ""
    table.add_row(f"{plan.default}{mixed} (integer reference)", f"{100 * result.quant_accuracy:.2f} %",
                  f"{report['drop_points']:.2f}")
    console().print(table)
    typer.echo(f"wrote {output}")


def _override(plan: QuantPlan, scheme: str | None, calib: str | None, calib_size: int | None,
              layers: list[str]) -> QuantPlan:
    """The plan with the command line's settings on top (``replace`` re-validates them)."""
    from dataclasses import replace

    overrides = {}
    for item in layers:
        name, sep, text = item.partition("=")
        if not sep or not name.strip() or not text.strip():
            raise QuantizationError(f"--layer expects LAYER=SCHEME, got '{item}'")
        overrides[name.strip()] = text.strip()
    fields = {k: v for k, v in (("default", scheme), ("calib", calib), ("calib_size", calib_size)) if v is not None}
    return replace(plan, **fields).with_layers(overrides)


def _write(path: Path, write: Callable[[], None]) -> None:
    try:
        write()
    except OSError as err:
        raise AicsError(f"cannot write '{path}': {err.strerror or err}") from None


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
    app.command("quantize")(quantize_cmd)
