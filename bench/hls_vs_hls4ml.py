"""HLS C emission: ours (``aics.backends.hls``) vs hls4ml, on the 9-20-20-5 MLP and LeNet-5.

    bench/.venv-hls4ml/bin/python bench/hls_vs_hls4ml.py [--samples 1000] [--out bench/_work/hls]

Runs in its own venv (``python3.11 -m venv bench/.venv-hls4ml``; ``pip install torch==2.13.0 hls4ml``
and ``pip install -e .``) because hls4ml pins its own numpy. The same float models go through:

* ours: PTQ (int8; Q2.6 wrap, the seeds' format; Q6.10 = hls4ml's ap_fixed<16,6>) with the project's quantizer, C99 project emitted, compiled by
  gcc -O2 -Wall -Wextra -Werror, testbench run on all samples in one process (C simulation);
* hls4ml: ``config_from_pytorch_model`` (granularity 'name', default ``ap_fixed<16,6>``), Vivado
  backend (io_parallel for the MLP, io_stream for LeNet), ``compile()`` (g++ build of the C++
  emulation library), ``predict()`` on the same samples.

Reported: max / mean |output - float PyTorch| and argmax agreement with float, generated lines of
code (all files the project needs to build, library headers included and separately), compile
time, C-simulation throughput. The MLP has random weights (seed 0, inputs U[-1, 1]); LeNet-5 is
trained 3 epochs on the digits (32x32) and scored on the 360 test images. Prints Markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from aics.backends.hls import build_project, write_project
from aics.backends.hls.csim import compile_project, quantize_inputs, run_testbench
from aics.compress.quant import QuantPlan, quantize_graph
from aics.ir.torch_import import import_module
from aics.reference import dequantize


def models(samples: int) -> list[tuple[str, nn.Module, np.ndarray, np.ndarray | None, np.ndarray]]:
    """(label, float model, test inputs, labels or None, calibration inputs)."""
    from aics.data import load_digits
    from aics.data.digits import config_for_shape
    from aics.train import TrainConfig, deterministic, train
    from aics.zoo.lenet import LeNet5
    from aics.zoo.mlp import MLP

    with deterministic(0):
        mlp = MLP((9, 20, 20, 5)).eval()
        lenet = LeNet5()
    rng = np.random.default_rng(0)
    x_mlp = rng.uniform(-1, 1, (samples, 9)).astype(np.float32)
    split = load_digits(config_for_shape((1, 1, 32, 32)))
    train(lenet, split, TrainConfig(epochs=3), progress=False)
    return [("MLP 9-20-20-5", mlp, x_mlp, None, x_mlp[:256]),
            ("LeNet-5 (digits)", lenet.eval(), split.x_test, split.y_test, split.x_train[:256])]


def lines_of(paths: list[Path]) -> int:
    return sum(len(p.read_text(errors="replace").splitlines()) for p in paths if p.is_file())


def ours(model: nn.Module, x: np.ndarray, calib: np.ndarray, scheme: str, out: Path) -> dict[str, object]:
    graph = quantize_graph(import_module(model, (1, *x.shape[1:]), name="m"), calib, QuantPlan(default=scheme))
    start = time.perf_counter()
    project = build_project(graph)
    shutil.rmtree(out, ignore_errors=True)
    paths = write_project(project, out)
    emit_s = time.perf_counter() - start
    exe, compile_s = compile_project(out)
    codes = quantize_inputs(graph, x)
    start = time.perf_counter()
    got, kernel_s = run_testbench(exe, project, codes)
    wall = time.perf_counter() - start
    y = dequantize(graph, graph.outputs[0], got).reshape(len(x), -1)
    return {"y": y, "emit_s": emit_s, "compile_s": compile_s, "ips": len(x) / kernel_s, "ips_wall": len(x) / wall,
            "loc": lines_of(paths), "loc_lib": lines_of([out / "aics_kernels.h"])}


def hls4ml_run(model: nn.Module, x: np.ndarray, io_type: str, out: Path) -> dict[str, object]:
    import hls4ml

    shutil.rmtree(out, ignore_errors=True)
    with contextlib.redirect_stdout(sys.stderr):  # hls4ml prints its progress; keep stdout Markdown
        return _hls4ml_run(hls4ml, model, x, io_type, out)


def _hls4ml_run(hls4ml: Any, model: nn.Module, x: np.ndarray, io_type: str, out: Path) -> dict[str, object]:
    start = time.perf_counter()
    config = hls4ml.utils.config_from_pytorch_model(model, tuple(x.shape[1:]), granularity="name",
                                                    default_precision="ap_fixed<16,6>")
    hmodel = hls4ml.converters.convert_from_pytorch_model(model, hls_config=config, output_dir=str(out),
                                                          backend="Vivado", io_type=io_type)
    hmodel.write()
    emit_s = time.perf_counter() - start
    start = time.perf_counter()
    hmodel.compile()
    compile_s = time.perf_counter() - start
    xin = np.ascontiguousarray(x.reshape(len(x), -1) if x.ndim == 2 else x)
    start = time.perf_counter()
    y = np.asarray(hmodel.predict(xin)).reshape(len(x), -1)
    ips = len(x) / (time.perf_counter() - start)
    files = [p for p in out.rglob("*") if p.suffix in (".cpp", ".h", ".hpp", ".sh", ".tcl")]
    lib = [p for p in files if "nnet_utils" in p.parts or "ap_types" in p.parts]
    return {"y": y, "emit_s": emit_s, "compile_s": compile_s, "ips": ips, "ips_wall": ips,
            "loc": lines_of(files), "loc_lib": lines_of(lib)}


def row(label: str, tool: str, r: dict[str, object], ref: np.ndarray, labels: np.ndarray | None) -> str:
    y = r["y"]
    assert isinstance(y, np.ndarray)
    err = np.abs(y - ref)
    agree = float(np.mean(y.argmax(-1) == ref.argmax(-1)))
    acc = f"{100 * float(np.mean(y.argmax(-1) == labels)):.2f} %" if labels is not None else "-"
    return (f"| {label} | {tool} | {err.max():.4f} | {err.mean():.5f} | {agree:.3f} | {acc} | {r['loc']:,} "
            f"({r['loc_lib']:,} library) | {r['emit_s']:.2f} | {r['compile_s']:.2f} | {r['ips']:,.0f} | "
            f"{r['ips_wall']:,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("bench/_work/hls"))
    args = parser.parse_args()
    print(f"`{' '.join([Path(sys.executable).name, *sys.argv])}` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, torch {torch.__version__}, "
          f"gcc {subprocess.run(['gcc', '-dumpfullversion'], capture_output=True, text=True).stdout.strip()}")
    try:
        import hls4ml

        hls4ml_status, have_hls4ml = f"hls4ml {hls4ml.__version__}", True
    except Exception as err:  # record exactly why the comparison side is missing
        hls4ml_status, have_hls4ml = f"hls4ml unavailable: {type(err).__name__}: {err}", False
    print(f"\n{hls4ml_status}\n")
    print("| model | tool (numerics) | max abs err vs float | mean abs err | argmax agree | test acc | "
          "lines of code | emit s | compile s | csim inf/s (kernel) | csim inf/s (wall) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    torch.set_num_threads(1)
    for label, model, x, labels, calib in models(args.samples):
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).numpy().reshape(len(x), -1)
        if labels is not None:
            print(f"| {label} | float PyTorch | 0 | 0 | 1.000 | {100 * float(np.mean(ref.argmax(-1) == labels)):.2f} % "
                  "| - | - | - | - | - |")
        for scheme in ("int8", "fixed:Q2.6", "fixed:Q6.10"):
            r = ours(model, x, calib, scheme, args.out / f"aics_{label.split()[0]}_{scheme.replace(':', '_')}")
            print(row(label, f"aics ({scheme})", r, ref, labels))
        if have_hls4ml:
            try:
                io = "io_parallel" if x.ndim == 2 else "io_stream"
                r = hls4ml_run(model, x, io, args.out / f"hls4ml_{label.split()[0]}")
                print(row(label, f"hls4ml (ap_fixed<16,6>, {io})", r, ref, labels))
            except Exception as err:
                print(f"| {label} | hls4ml failed: {type(err).__name__}: {str(err).splitlines()[0][:200]} |")


if __name__ == "__main__":
    main()
