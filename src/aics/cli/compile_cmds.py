"""``aics compile``, ``aics run`` and ``aics simulate``: model -> DLP program -> simulated run."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer
from rich.table import Table

from aics.cli.common import Format, console, print_json, shape_option
from aics.errors import AicsError, DataError

_MODEL = typer.Argument(..., help="zoo name, path/to/file.py:factory, model.onnx, checkpoint .pt or quantized IR .json")
_ARCH = typer.Option(..., "--arch", "-a", help="arch preset name or TOML file")
_QUANT = typer.Option("int8", "--quant", help="numerics of the program: int8 or fp32")
_CALIB = typer.Option("random", "--calib", help="calibration data: random (seeded) or digits")
_SHAPE = typer.Option(None, "--input-shape", help="override the input shape, e.g. 1x3x64x64")
_ON_CHIP = typer.Option(True, "--keep-on-chip/--no-keep-on-chip",
                        help="keep activations in free NRAM between layers (one core)")
_REORDER = typer.Option(True, "--reorder/--no-reorder",
                        help="list-schedule the code (kept only when the simulator finds it faster)")


def compile_cmd(
    model: str = _MODEL, arch: str = _ARCH, quant: str = _QUANT, calib: str = _CALIB,
    input_shape: Optional[str] = _SHAPE,
    output: Path = typer.Option(..., "--output", "-o", help="program file to write (.dlp)"),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table or json"),
    keep_on_chip: bool = _ON_CHIP, reorder: bool = _REORDER,
) -> None:
    """Quantize MODEL (PTQ) and compile it into a DLP program file for ARCH."""
    from aics.compiler.compile import compile_graph
    from aics.compiler.workflow import quantized_model
    from aics.dlp.arch_io import load_arch
    from aics.dlp.program import save_program

    machine = load_arch(arch)
    compiled = compile_graph(quantized_model(model, quant, shape_option(input_shape), calib), machine,
                             keep_on_chip, reorder)
    try:
        save_program(compiled.program, output)
    except OSError as err:
        raise AicsError(f"cannot write '{output}': {err.strerror or err}") from None
    p = compiled.program
    info = {"model": model, "arch": machine.name, "output": str(output), "instructions": len(p.code[0]),
            "layers": len(compiled.layers), "dram_image_bytes": len(p.dram), "dram_bytes": p.dram_size,
            "macs": sum(layer.macs for layer in compiled.layers),
            "passes": [r.name for r in compiled.passes],
            "fused": {k: list(v.absorbed) for k, v in compiled.fusion.items() if v.absorbed}}
    if format == Format.json:
        print_json(info)
        return
    typer.echo(f"compiled {model} for {machine.name}: {info['layers']} layers, {info['instructions']} "
               f"instructions, {info['macs']:,} MACs, {len(p.dram):,} bytes of constants -> {output}")


def run_cmd(
    program: Path = typer.Argument(..., help="program file (.dlp) from aics compile"),
    input: Path = typer.Option(..., "--input", "-i", help="input tensor (.npy): float data or int8 codes"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="write the output codes (.npy)"),
    arch: Optional[str] = typer.Option(None, "--arch", "-a", help="arch (default: the program's own preset)"),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table or json"),
    trace: Optional[Path] = typer.Option(None, "--trace", help="write a Chrome/Perfetto trace (JSON)"),
) -> None:
    """Execute a program on the DLP simulator (functional + timing) and print its output and cycles."""
    from aics.compiler.host_runtime import HostRuntime
    from aics.compiler.workflow import to_codes
    from aics.dlp import sim
    from aics.dlp.arch_io import load_arch
    from aics.dlp.program import load_program

    prog = load_program(program)
    machine = load_arch(arch or prog.arch_name)
    try:
        x = np.load(input, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read input '{input}': {err}") from None
    if len(prog.inputs) != 1:
        raise DataError(f"the program has {len(prog.inputs)} inputs; aics run feeds one")
    desc = prog.inputs[0]
    result = sim.run(prog, machine, {desc.name: to_codes(x, desc)}, trace=trace, host=HostRuntime())
    assert result.timing is not None
    out_desc = prog.outputs[0]
    y = result.outputs[out_desc.name]
    if output is not None:
        try:
            np.save(output, y)
        except OSError as err:
            raise AicsError(f"cannot write '{output}': {err.strerror or err}") from None
    real = (y.astype(np.float32) - out_desc.zero_point) * np.float32(out_desc.scale)
    t = result.timing
    report: dict[str, Any] = {"output": out_desc.name, "shape": list(y.shape), "codes": y.ravel()[:16].tolist(),
                              "values": real.ravel()[:16].tolist(), "argmax": int(np.argmax(real)),
                              "cycles": t.cycles, "seconds": t.seconds, "utilization": t.utilization,
                              "dram_bytes": t.bytes["dram"]}
    if format == Format.json:
        print_json(report)
        return
    typer.echo(f"{out_desc.name} {y.shape}: argmax {report['argmax']}, first values "
               f"{np.array2string(real.ravel()[:8], precision=4)}")
    typer.echo(f"{t.cycles:,} cycles ({t.seconds * 1e6:.1f} us), utilization {100 * t.utilization:.1f} %, "
               f"DRAM {t.bytes['dram']:,} bytes")


def simulate_cmd(
    model: str = _MODEL, arch: str = _ARCH, quant: str = _QUANT, calib: str = _CALIB,
    input_shape: Optional[str] = _SHAPE,
    input: Optional[Path] = typer.Option(None, "--input", "-i", help="input (.npy); default: seeded random"),
    seed: int = typer.Option(0, "--seed", help="seed of the random input"),
    functional: bool = typer.Option(True, "--functional/--timing-only", help="also execute on data and compare"),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table or json"),
    trace: Optional[Path] = typer.Option(None, "--trace", help="write a Chrome/Perfetto trace (JSON)"),
    keep_on_chip: bool = _ON_CHIP, reorder: bool = _REORDER,
) -> None:
    """Compile MODEL for ARCH, simulate it on an input and compare with the integer reference."""
    from aics.compiler.workflow import quantized_model, simulate
    from aics.dlp.arch_io import load_arch

    machine = load_arch(arch)
    qgraph = quantized_model(model, quant, shape_option(input_shape), calib)
    x = None
    if input is not None:
        try:
            x = np.load(input, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise DataError(f"cannot read input '{input}': {err}") from None
    report = simulate(qgraph, machine, x, seed, functional, str(trace) if trace else None, keep_on_chip,
                      reorder).report
    report = {"model": model, **report}
    if format == Format.json:
        print_json(report)
        return
    _table(report)


def _table(r: dict[str, Any]) -> None:
    table = Table(title=f"{r['model']} on {r['arch']}: {r['cycles']:,} cycles ({r['seconds'] * 1e6:.1f} us)")
    for col in ("layer", "op", "cycles", "MACs", "bound", "bound cycles", "ratio"):
        table.add_column(col, justify="left" if col in ("layer", "op", "bound") else "right")
    for layer in r["layers"]:
        table.add_row(layer["name"], layer["op"], f"{layer['cycles']:,}", f"{layer['macs']:,}", layer["bound"],
                      f"{layer['bound_cycles']:,}", str(layer["ratio"]))
    console().print(table)
    if r["bit_exact"] is None:
        check = "outputs not checked"
    elif r["quant"] == "fp32":  # float sums in another order: rounding, not bit-exactness, is the question
        check = f"max |diff| / max |ref| vs the float reference: {r['max_rel_diff']:.2e}"
    else:
        check = "bit-exact vs integer reference: " + (
            "yes" if r["bit_exact"] else f"NO (max |diff| {r['max_abs_diff']})")
    typer.echo(f"MACs {r['macs']:,}  utilization {100 * r['utilization']:.1f} %  DRAM {r['dram_bytes']:,} B  "
               f"roofline bound {r['roofline_bound_cycles']:,} cycles ({r['roofline_bound']}), "
               f"ratio {r['roofline_ratio']}  {check}")
    if r["host_cycles"]:
        hosted = [layer["name"] for layer in r["layers"] if layer["bound"] == "host"]
        typer.echo(f"host CPU: {len(hosted)} layer(s) ({', '.join(hosted[:4])}{', ...' if len(hosted) > 4 else ''}), "
                   f"{r['host_cycles']:,} cycles of the total")


def register(app: typer.Typer) -> None:
    app.command("compile")(compile_cmd)
    app.command("run")(run_cmd)
    app.command("simulate")(simulate_cmd)
