"""``aics demo``: the end-to-end main job on bundled data (what ``make demo`` runs).

Analyse a few zoo models; train LeNet-5 on scikit-learn's digits; prune it with NetAdapt to 75 % of
its latency *on the simulated DLP* (the closed loop: proposals ranked by the simulator's per-layer
lookup table, cached in the output folder), fine-tune; quantize it to int8 with the integer
reference as the judge; compile it for the ``edge-int8`` DLP and run the whole test split
on the simulator (every output checked bit for bit against the integer reference), with the
cycles of one inference and its trace; emit it as HLS C and run the test split through the C
simulation. The artefacts land in ``--out`` (default ``out/demo``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
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
    """Analyse zoo models; train LeNet-5 on digits, quantize it to int8, run it on the DLP simulator
    and as HLS C, and score every step."""
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
    pruned, pruned_path = _netadapt(ckpt_path, out)
    result = quantize_subject(load_subject(str(pruned_path)))
    qpath = out / "lenet5.q.json"
    save(result.graph, qpath)
    table = Table(title="2. LeNet-5 on digits (360 test images): train, NetAdapt on the DLP, int8 PTQ, "
                        "DLP simulator, HLS C")
    for col in ("step", "test accuracy", "artefact"):
        table.add_column(col)
    table.add_row(f"train {epochs} epochs ({trained.seconds:.1f} s)", f"{trained.accuracy:.2%}", str(ckpt_path))
    table.add_row(f"NetAdapt on edge-int8: {pruned['latency_before_ms'] * 1e3:.2f} -> "
                  f"{pruned['latency_after_ms'] * 1e3:.2f} us simulated, MACs {pruned['macs_before']:,} -> "
                  f"{pruned['macs_after']:,}, fine-tuned", f"{pruned['accuracy_after']:.2%}", str(pruned_path))
    table.add_row("float32 (reference)", f"{result.float_accuracy:.2%}", "")
    table.add_row("int8 (integer reference)", f"{result.quant_accuracy:.2%}", str(qpath))
    split = load_subject(str(ckpt_path)).split
    dlp = _on_the_dlp(result.graph, split.x_test, split.y_test, out)
    table.add_row(f"int8 on the {dlp['arch']} DLP simulator ({dlp['exact']}/{len(split.y_test)} outputs "
                  f"bit-exact)", f"{dlp['accuracy']:.2%}", dlp["program"])
    hls = _through_hls(result.graph, split.x_test, split.y_test, out)
    table.add_row(f"int8 as HLS C, C simulation ({'bit-exact' if hls['bit_exact'] else 'NOT bit-exact'})",
                  f"{hls['accuracy']:.2%}", hls["project"])
    con.print(table)
    t = dlp["timing"]
    con.print(f"3. one inference on {dlp['arch']}: {t['cycles']:,} cycles = {t['seconds'] * 1e6:.1f} us, "
              f"utilization {100 * t['utilization']:.1f} %, DRAM {t['dram_bytes']:,} B, "
              f"{t['roofline_ratio']}x its roofline bound; trace: {dlp['trace']}")


def _netadapt(ckpt_path: Path, out: Path) -> tuple[dict[str, Any], Path]:
    """NetAdapt to 75 % of the simulated edge-int8 latency, 3 fine-tune epochs; the pruned checkpoint."""
    from aics import checkpoint
    from aics.compress.prune.checkpoint_io import save_pruned
    from aics.compress.prune.dlp_latency import SimulatedLatency
    from aics.compress.prune.workflow import PruneRequest, run

    trained = checkpoint.load(ckpt_path)
    start = SimulatedLatency("edge-int8").latency_ms(trained.build().eval(), trained.input_shape)
    done = run(PruneRequest(model=str(ckpt_path), method="netadapt", arch="edge-int8", target_latency_ms=0.75 * start,
                            finetune_epochs=3, short_finetune_epochs=0, cache=str(out / "latency-cache")))
    path = out / "lenet5.pruned.pt"
    save_pruned(checkpoint.from_module(done.name, done.model, done.input_shape, done.kwargs, done.split.config,
                                       done.report), done.plan, path)
    return done.report, path


def _on_the_dlp(graph: Any, x: np.ndarray, y: np.ndarray, out: Path) -> dict[str, Any]:
    """Compile for edge-int8, run every test image functionally (compared with the integer
    reference), time one inference with a trace."""
    from aics.compiler.compile import compile_graph
    from aics.compiler.host_runtime import HostRuntime
    from aics.compiler.workflow import simulate, to_codes
    from aics.dlp import sim
    from aics.dlp.arch_io import load_arch
    from aics.dlp.program import save_program
    from aics.reference.executor import Executor

    arch = load_arch("edge-int8")
    program = compile_graph(graph, arch).program
    save_program(program, out / "lenet5.dlp")
    desc, reference, host = program.inputs[0], Executor(graph, "int"), HostRuntime()
    exact, correct = 0, 0
    for image, label in zip(x, y):
        codes = to_codes(image[None], desc)
        got = next(iter(sim.run(program, arch, {desc.name: codes}, mode="functional", host=host).outputs.values()))
        exact += int(np.array_equal(got, reference.run(codes)[0]))
        correct += int(np.argmax(got) == label)
    trace = out / "lenet5.trace.json"
    timing = simulate(graph, arch, x[:1], functional=False, trace=str(trace)).report
    return {"arch": arch.name, "exact": exact, "accuracy": correct / len(y), "program": str(out / "lenet5.dlp"),
            "trace": str(trace), "timing": timing}


def _through_hls(graph: Any, x: np.ndarray, y: np.ndarray, out: Path) -> dict[str, Any]:
    from aics.backends.hls import build_project, csim, write_project

    project = build_project(graph)
    outdir = out / "hls"
    write_project(project, outdir, force=True)
    result = csim(project, outdir, x)
    predicted = result.outputs.reshape(len(x), -1).argmax(1)
    return {"bit_exact": result.bit_exact, "accuracy": float((predicted == y).mean()), "project": str(outdir)}


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
