"""``aics asm`` (assemble and simulate a DLP program, or simulate a program file) and ``aics
disasm`` (print one as text)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.table import Table

from aics.cli.common import console, print_json
from aics.errors import DataError


class AsmFormat(str, Enum):
    table = "table"
    json = "json"


def asm_cmd(
    file: Path = typer.Argument(..., help="assembly source (.s), full or textbook form, or a program file (.dlp)"),
    arch: str = typer.Option(..., "--arch", "-a", help="arch preset name or TOML file"),
    format: AsmFormat = typer.Option(AsmFormat.table, "--format", "-f", help="table or json"),
    trace: Optional[Path] = typer.Option(None, "--trace", help="write a Chrome/Perfetto trace (JSON)"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="write the assembled program (.dlp)"),
    inputs: list[str] = typer.Option([], "--input", "-i", help="NAME=FILE.npy for a declared .input"),
    timing_only: bool = typer.Option(False, "--timing-only", help="skip the functional simulation"),
) -> None:
    """Assemble FILE (or load a .dlp) and simulate it: timing always, functional too for full-form
    programs unless --timing-only."""
    from aics.dlp.arch_io import load_arch
    from aics.dlp.asm import assemble_file
    from aics.dlp.program import load_program, save_program
    from aics.dlp.sim import functional as functional_sim
    from aics.dlp.sim import timing

    machine = load_arch(arch)
    program = load_program(file) if file.suffix == ".dlp" else assemble_file(file, machine)
    functional = not timing_only and any(i.reads() or i.writes() for code in program.code for i in code)
    outputs = functional_sim.run(program, machine, _load_inputs(inputs)).outputs if functional else {}
    report = timing.simulate(program, machine, trace)
    if output is not None:
        save_program(program, output)
    if format == AsmFormat.json:
        print_json({"file": str(file), "functional": functional, **report.to_dict(),
                    "outputs": {name: value.tolist() for name, value in outputs.items()}})
        return
    out = console()
    summary = Table(title=f"{file.name} on {machine.name}", show_header=False)
    summary.add_row("cycles", f"{report.cycles:,}")
    summary.add_row("time", f"{report.seconds * 1e6:.3f} us")
    summary.add_row("instructions", f"{report.instructions:,}")
    summary.add_row("MACs", f"{report.macs:,}")
    summary.add_row("utilization", f"{report.utilization:.1%}")
    summary.add_row("DRAM bytes", f"{report.bytes['dram']:,}")
    summary.add_row("energy", f"{report.energy_pj / 1e6:.3f} uJ")
    summary.add_row("functional", "ran" if functional else "skipped (--timing-only)" if timing_only else
                    "skipped (no addresses: textbook form)")
    out.print(summary)
    units = Table(title="units")
    for col in ("core", "unit", "busy", "busy %", "stall dep", "stall dram", "stall sync"):
        units.add_column(col, justify="left" if col in ("core", "unit") else "right")
    for core, stats in enumerate(report.units):
        for name, u in stats.items():
            share = u.busy / report.cycles if report.cycles else 0.0
            units.add_row(str(core), name, f"{u.busy:,}", f"{share:.1%}", f"{u.stalls['dependency']:,}",
                          f"{u.stalls['dram']:,}", f"{u.stalls['sync']:,}")
    out.print(units)
    if report.layers:
        layers = Table(title="layers")
        for col in ("tag", "layer", "start", "end", "cycles", "MACs"):
            layers.add_column(col, justify="left" if col == "layer" else "right")
        for layer in report.layers:
            layers.add_row(str(layer.tag), layer.name, f"{layer.start:,}", f"{layer.end:,}",
                           f"{layer.cycles:,}", f"{layer.macs:,}")
        out.print(layers)


def disasm_cmd(file: Path = typer.Argument(..., help="program file (.dlp)")) -> None:
    """Print a program file in the full text form (it assembles back to the same code)."""
    from aics.dlp.asm import disassemble
    from aics.dlp.program import load_program

    typer.echo(disassemble(load_program(file)), nl=False)


def _load_inputs(specs: list[str]) -> dict[str, np.ndarray]:
    values = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise DataError(f"--input '{spec}': expected NAME=FILE.npy")
        try:
            values[name] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise DataError(f"--input {name}: cannot read {path}: {err}") from None
    return values


def register(app: typer.Typer) -> None:
    app.command("asm")(asm_cmd)
    app.command("disasm")(disasm_cmd)
