"""Our closed-form matrix-unit model vs SCALE-Sim 3.0.0 on ResNet-50's layers: cycles and speed.

    .venv/bin/python bench/sim_vs_scalesim.py [--layers N] [--configs sa32_os sa128_ws] [--refresh]

SCALE-Sim runs in its own venv (``bench/.venv-scalesim``, created on first use: it needs
``numpy<2`` and ``pandas<2.3``), through its Python API with traces off, on the first N rows of
``scalesim_topologies/resnet50_scalesim.csv`` (default 10: a few CPU-minutes; all 54 take ~15).
Its reports and timings are cached under ``bench/_work/scalesim/`` keyed by config, N and file
contents, so a rerun only re-times our side. Prints Markdown: per-layer cycles side by side, the
verdict, and the wall-time ratio. Exit status 1 if any layer's cycles differ.

Timings: SCALE-Sim's is the wall time of ``run_scale`` inside its process (interpreter start-up and
imports excluded); ours is the median of repeated in-process runs of parse + model + report.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from aics.dlp.scalesim_io import compute_report, layer_cost, load_scalesim_cfg, load_topology

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-scalesim"
WORK = HERE / "_work" / "scalesim"
INPUTS = HERE / "scalesim_topologies"
TOPOLOGY = INPUTS / "resnet50_scalesim.csv"
LAYOUT = INPUTS / "layout_empty.csv"
PACKAGES = ["scalesim==3.0.0", "numpy<2", "pandas<2.3"]

DRIVER = r"""
import json, resource, sys, time
from scalesim.scale_sim import scalesim
config, topology, layout, outdir = sys.argv[1:5]
sim = scalesim(save_disk_space=True, verbose=False, config=config, topology=topology,
               layout=layout, input_type_gemm=False)
wall, cpu = time.perf_counter(), time.process_time()
sim.run_scale(top_path=outdir)
print(json.dumps({"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


@dataclass(frozen=True)
class ScaleSimRun:
    report: list[list[str]]  # COMPUTE_REPORT rows without the header, fields stripped
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    date: str
    cached: bool


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    return python


def prefix_topology(layers: int, folder: Path) -> Path:
    lines = TOPOLOGY.read_text().splitlines(keepends=True)
    path = folder / "topology.csv"
    path.write_text("".join(lines[: layers + 1]))
    return path


def run_scalesim(config: Path, layers: int, refresh: bool) -> ScaleSimRun:
    """SCALE-Sim's COMPUTE_REPORT for the first ``layers`` rows, from the cache when it has it."""
    rows = "".join(TOPOLOGY.read_text().splitlines(keepends=True)[: layers + 1])
    key = hashlib.sha256((config.read_text() + rows + str(PACKAGES)).encode()).hexdigest()[:10]
    folder = WORK / f"{config.stem}_L{layers}_{key}"
    report, timing = folder / "COMPUTE_REPORT.csv", folder / "timing.json"
    cached = report.exists() and timing.exists() and not refresh
    if not cached:
        folder.mkdir(parents=True, exist_ok=True)
        topology, outdir = prefix_topology(layers, folder), folder / "out"
        shutil.rmtree(outdir, ignore_errors=True)
        done = subprocess.run([str(ensure_venv()), "-c", DRIVER, str(config), str(topology),
                               str(LAYOUT), str(outdir)], check=True, capture_output=True, text=True)
        stats = json.loads(done.stdout.strip().splitlines()[-1])
        stats["date"] = datetime.datetime.now().isoformat(timespec="seconds")
        for produced in outdir.glob("*/*.csv"):  # OUTDIR/<run_name>/*_REPORT.csv
            shutil.copy(produced, folder / produced.name)
        shutil.rmtree(outdir)
        timing.write_text(json.dumps(stats, indent=1))
    stats = json.loads(timing.read_text())
    with open(report) as f:
        table = [[x.strip() for x in row] for row in csv.reader(f)][1:]
    return ScaleSimRun(table, stats["wall_s"], stats["cpu_s"], stats["peak_rss_mb"], stats["date"],
                       cached)


def time_ours(config: Path, topology: Path, budget_s: float = 0.5) -> float:
    """Median seconds of parse + model + report, repeated for ``budget_s``."""
    samples: list[float] = []
    end = time.perf_counter() + budget_s
    while time.perf_counter() < end or len(samples) < 5:
        start = time.perf_counter()
        arch, layers = load_scalesim_cfg(config), load_topology(topology)
        compute_report(arch, layers)
        sum(layer_cost(arch.matrix, layer).cycles for layer in layers)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def compare(config: Path, layers: int, refresh: bool) -> bool:
    theirs = run_scalesim(config, layers, refresh)
    topology = prefix_topology(layers, WORK)
    arch, net = load_scalesim_cfg(config), load_topology(topology)
    ours = compute_report(arch, net)
    m = arch.matrix
    print(f"\n### {m.rows}x{m.cols} {m.dataflow} (`{config.name}`), first {layers} ResNet-50 layers\n")
    print("| # | layer | SCALE-Sim Total Cycles | aics (SCALE-Sim convention) | aics cycles | equal |")
    print("|---|---|---:|---:|---:|---|")
    all_equal, worst = True, 0.0
    for layer, row, ref in zip(net, ours, theirs.report):
        equal = row.total_cycles == int(ref[2]) and row.stall_cycles == int(ref[3])
        all_equal &= equal
        for value, text in zip((row.overall_util, row.mapping_efficiency, row.compute_util), ref[4:7]):
            worst = max(worst, abs(value - float(text)) / max(abs(float(text)), 1e-300))
        print(f"| {row.layer_id} | {layer.name} | {int(ref[2]):,} | {row.total_cycles:,} | "
              f"{row.total_cycles + 1:,} | {'yes' if equal else '**NO**'} |")
    all_equal &= len(ours) == len(theirs.report)
    total_ref = sum(int(r[2]) for r in theirs.report)
    total = sum(r.total_cycles for r in ours)
    print(f"| | **total** | **{total_ref:,}** | **{total:,}** | **{total + len(ours):,}** | "
          f"{'yes' if all_equal else '**NO**'} |\n")
    ours_s = time_ours(config, topology)
    source = f"cached run of {theirs.date}" if theirs.cached else f"run of {theirs.date}"
    print(f"- cycles: {'all layers equal' if all_equal else 'DIFFERENCES (see table)'}; "
          "aics counts cycles, SCALE-Sim prints the index of the last one (+1 per layer, its #125)")
    print(f"- util columns (Overall, Mapping Efficiency, Compute Util %): max relative difference "
          f"{worst:.1e} (float rounding: SCALE-Sim averages per fold, aics uses the closed form)")
    print(f"- SCALE-Sim ({source}): {theirs.wall_s:,.1f} s wall, {theirs.cpu_s:,.1f} s CPU, "
          f"peak RSS {theirs.peak_rss_mb:,.0f} MB")
    print(f"- aics: {ours_s * 1e3:.2f} ms (parse + model + report, median) -> "
          f"**{theirs.wall_s / ours_s:,.0f}x** faster")
    return all_equal


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=10, help="first N ResNet-50 rows (1-54)")
    parser.add_argument("--configs", nargs="+", default=["sa32_os", "sa128_ws"],
                        help="config names under bench/scalesim_topologies/")
    parser.add_argument("--refresh", action="store_true", help="rerun SCALE-Sim despite the cache")
    args = parser.parse_args()
    total_rows = len(TOPOLOGY.read_text().splitlines()) - 1
    if not 1 <= args.layers <= total_rows:
        parser.error(f"--layers must be in 1..{total_rows}")
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"Simulator vs SCALE-Sim 3.0.0 ({datetime.date.today()}, python {sys.version.split()[0]})")
    results = [compare(INPUTS / f"{name}.cfg", args.layers, args.refresh) for name in args.configs]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
