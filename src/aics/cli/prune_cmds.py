"""``aics prune``: structured pruning with a MAC, ratio or simulated-latency budget, fine-tuning and
distillation. With ``--arch`` latencies come from the DLP simulator (a per-layer lookup table cached
under ``--cache``); without it NetAdapt falls back to the MAC proxy and the output says so."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from aics.cli.common import Format, console, print_json


def prune_cmd(
    model: str = typer.Argument(..., help="checkpoint .pt (from aics train or aics prune) or zoo name"),
    method: str = typer.Option("l1", "--method", "-m", help="l1, l2, taylor, slim, lasso, random or netadapt"),
    target_macs: Optional[float] = typer.Option(None, "--target-macs", help="keep this fraction of the MACs, e.g. 0.5"),
    ratio: Optional[float] = typer.Option(None, "--ratio", help="remove this fraction of prunable channels"),
    target_latency_ms: Optional[float] = typer.Option(None, "--target-latency-ms", help="latency target (needs --arch)"),
    arch: Optional[str] = typer.Option(None, "--arch", help="DLP arch preset or TOML: simulated int8 latency"),
    cache: Optional[Path] = typer.Option(None, "--cache", help="latency lookup-table directory "
                                         "(default: $AICS_CACHE_DIR or ~/.cache/aics)"),
    global_rank: bool = typer.Option(False, "--global", help="rank channels across layers (normalised per layer)"),
    min_keep: float = typer.Option(0.1, "--min-keep", help="every layer keeps at least this fraction"),
    steps: int = typer.Option(1, "--steps", help="iterative: prune in this many steps, --short-finetune-epochs between"),
    data: str = typer.Option("digits", "--data", help="dataset for scoring, fine-tuning and accuracy"),
    finetune_epochs: int = typer.Option(5, "--finetune-epochs", help="fine-tune epochs after pruning"),
    short_finetune_epochs: int = typer.Option(1, "--short-finetune-epochs",
                                              help="fine-tune per NetAdapt proposal / between --steps (0: none)"),
    distill: Optional[str] = typer.Option(None, "--distill", help="recover from the unpruned teacher: kd, at or mimic"),
    lr: float = typer.Option(0.01, "--lr", help="fine-tune peak learning rate (cosine decay)"),
    optimizer: str = typer.Option("sgd", "--optimizer", help="sgd or adam"),
    seed: int = typer.Option(0, "--seed"),
    input_size: Optional[int] = typer.Option(None, "--input-size", help="zoo models: upscale digits to this side"),
    output: Path = typer.Option(..., "--output", "-o", help="pruned checkpoint to write (.pt)"),
    plan_out: Optional[Path] = typer.Option(None, "--plan", help="also write the prune plan as JSON"),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table or json"),
) -> None:
    """Remove channels physically (dependency-aware), fine-tune, and report params, MACs and accuracy."""
    from aics import checkpoint
    from aics.compress.prune.checkpoint_io import save_pruned
    from aics.compress.prune.workflow import PruneRequest, run

    req = PruneRequest(model=model, method=method, ratio=ratio, target_macs=target_macs,
                       target_latency_ms=target_latency_ms, arch=arch, scope="global" if global_rank else "local",
                       min_keep=min_keep, steps=steps, data=data, finetune_epochs=finetune_epochs,
                       short_finetune_epochs=short_finetune_epochs, distill=distill,
                       lr=lr, optimizer=optimizer, seed=seed, input_size=input_size,
                       cache=str(cache) if cache is not None else None)
    out = run(req)
    ckpt = checkpoint.from_module(out.name, out.model, out.input_shape, out.kwargs, out.split.config, out.report)
    save_pruned(ckpt, out.plan, output)
    if plan_out is not None:
        out.plan.save(plan_out)
    if format == Format.json:
        print_json({**out.report, "checkpoint": str(output)})
        return
    r = out.report
    table = Table(title=f"aics prune {model} --method {method} ({r['scope']})")
    for col in ("", "before", "after", "ratio"):
        table.add_column(col, justify="right")
    for key in ("params", "macs"):
        before, after = r[f"{key}_before"], r[f"{key}_after"]
        table.add_row(key, f"{before:,}", f"{after:,}", f"{after / before:.3f}" if before else "-")
    table.add_row("accuracy", f"{r['accuracy_before']:.4f}", f"{r['accuracy_after']:.4f}",
                  f"pruned, no fine-tune: {r['accuracy_pruned']:.4f}")
    prefix = "" if r.get("arch") else "proxy_"
    before, after = r[f"{prefix}latency_before_ms"], r[f"{prefix}latency_after_ms"]
    label = f"latency ms ({r['arch']}, simulated)" if r.get("arch") else "latency ms (MAC proxy)"
    table.add_row(label, f"{before:.4g}", f"{after:.4g}", f"{after / before:.3f}" if before else "-")
    console().print(table)
    typer.echo(f"latency model: {r['latency_model']}")
    typer.echo(f"wrote {output}")


def register(app: typer.Typer) -> None:
    app.command("prune")(prune_cmd)
