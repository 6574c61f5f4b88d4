"""Analyzer vs torchinfo and fvcore: totals side by side over the zoo, and whole-zoo wall time.

Run:  python bench/analyzer_vs_peers.py [--models a,b,c] [--out bench/_work/analyzer.json]
It creates ``bench/.venv-peers`` (torch 2.13.0 + torchinfo + fvcore + this package) on first use and
re-runs itself there, so all three tools are timed in one process on one machine.

Definitions (see shared/anchors/model_counters.md): our ``macs`` = conv + linear + matmul MACs, no
bias. torchinfo adds one per bias-carrying output and, per module with other parameters (BN, LN),
batch x its parameter count, and counts a Linear as batch x params (ignoring token dimensions).
fvcore adds BN 2 per element (eval, affine), LayerNorm 5 per element, adaptive avg pool 1 per input
element, and counts no bias. The "explained" columns apply those rules to our per-layer counts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".venv-peers"


def ensure_venv() -> None:
    py = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():  # already running inside the bench venv
        return
    if not (VENV / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "torch==2.13.0"], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "torchinfo", "fvcore", "-e", str(ROOT)], check=True)
        (VENV / ".installed").touch()
    os.execv(str(py), [str(py), __file__, *sys.argv[1:]])


def explained(layers, batch: int = 1) -> tuple[int, int]:
    """(torchinfo, fvcore) totals predicted from our per-layer counts by each tool's rules."""
    ti = fv = 0
    for lc in layers:
        c, op = lc.counts, lc.op
        bias = c.adds == c.macs  # K-1 adds per output plus one for the bias (see analysis.counts)
        if op in ("conv2d", "linear"):
            tokens = c.neurons // (batch * lc.output_shape[-1]) if op == "linear" else 1
            ti += c.macs + (c.neurons if bias else 0) if tokens == 1 else batch * c.params
            fv += c.macs
        elif op == "conv_transpose2d":  # torchinfo treats it as a conv: every output x every weight
            spatial = c.neurons // (batch * lc.output_shape[1])
            ti += batch * spatial * c.params
            fv += c.macs
        elif op == "matmul":
            fv += c.macs
        elif op == "batch_norm":
            ti += batch * c.params
            fv += 2 * c.mults
        elif op == "layer_norm":
            ti += batch * c.params
            fv += 5 * (c.adds // 4)
        elif op == "adaptive_avg_pool2d":
            fv += c.adds + c.mults
        elif op in ("lstm", "gru"):  # torchinfo: seq_len x (weights + biases); fvcore skips RNNs
            ti += lc.output_shape[1] * c.params
        elif op == "embedding":
            ti += batch * c.params
    return ti, fv


def main() -> None:
    ensure_venv()
    import torch
    import torchinfo
    from fvcore.nn import FlopCountAnalysis

    from aics import zoo
    from aics.analysis.analyze import analyze
    from aics.models import load_graph, load_torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="")
    ap.add_argument("--out", default=str(ROOT / "bench" / "_work" / "analyzer.json"))
    args = ap.parse_args()
    names = args.models.split(",") if args.models else list(zoo.MODELS)
    torch.set_num_threads(2)
    rows, t_ours, t_ti, t_fv, t_build = [], 0.0, 0.0, 0.0, 0.0
    analyze(load_graph("lenet5"))  # warm imports for all three tools alike
    for name in names:
        t0 = time.perf_counter()
        a = analyze(load_graph(name))
        t_ours += (dt_ours := time.perf_counter() - t0)
        t0 = time.perf_counter()
        tm = load_torch(name)
        x = tm.example_input()
        t_build += (dt_build := time.perf_counter() - t0)
        row = {"model": name, "params": a.total.params, "macs": a.total.macs, "ours_s": dt_ours, "build_s": dt_build}
        row["ti_explained"], row["fv_explained"] = explained(a.layers)
        try:
            t0 = time.perf_counter()
            s = torchinfo.summary(tm.module, input_data=x, mode="eval", verbose=0)
            row["ti_s"] = time.perf_counter() - t0
            row["ti_params"], row["ti_macs"] = s.total_params, s.total_mult_adds
            t_ti += row["ti_s"] + dt_build
        except Exception as err:  # a peer failing on a model is a result, not a crash
            row["ti_error"] = f"{type(err).__name__}: {err}"[:120]
        try:
            t0 = time.perf_counter()
            with torch.no_grad():
                fca = FlopCountAnalysis(tm.module, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
                row["fv_macs"] = int(fca.total())
            row["fv_s"] = time.perf_counter() - t0
            t_fv += row["fv_s"] + dt_build
        except Exception as err:
            row["fv_error"] = f"{type(err).__name__}: {err}"[:120]
        rows.append(row)
        print(f"{name:20s} params {row['params']:>12,} macs {row['macs']:>15,} | torchinfo "
              f"{row.get('ti_params', '-'):>12} {row.get('ti_macs', '-'):>15} (expl {row['ti_explained']:,}) | "
              f"fvcore {row.get('fv_macs', '-'):>15} (expl {row['fv_explained']:,}) | "
              f"ours {dt_ours:.2f}s ti {row.get('ti_s', 0):.2f}s fv {row.get('fv_s', 0):.2f}s build {dt_build:.2f}s",
              flush=True)
    summary = {"models": len(rows), "ours_s": t_ours, "torchinfo_s_incl_build": t_ti, "fvcore_s_incl_build": t_fv,
               "build_s": t_build, "ratio_torchinfo_over_ours": t_ti / t_ours, "ratio_fvcore_over_ours": t_fv / t_ours}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
