#!/usr/bin/env python3
"""NetAdapt on the simulated DLP: latency lookup table accuracy, its cache, and pruning results.

Three parts, all on the ``edge-int8`` preset (int8, timing-only simulation):

1. **Table vs simulator.** For each model, fill the table from the unpruned network and from
   networks thinned in one channel group each (L2 order, 25 % / 50 % of the group), then estimate
   networks thinned in two groups at once, which were never simulated, and compare with a direct
   whole-network simulation. Both keyings: per-layer signature only, and signature + next layer.
2. **Cache.** NetAdapt (no fine-tunes, proposals ranked on held-out data) with a cold table,
   then again with the table file it left: wall time and simulator runs; and one query's time on
   ResNet-18 (direct simulation vs table hit).
3. **Pruning.** ``aics prune --method netadapt --arch edge-int8 --target-latency-ms (50 % of the
   unpruned simulated latency)`` through the same function the CLI calls, against L1 (local) with
   the same simulated-latency budget, same fine-tune budget, seeds 0, 1, 2.

    python bench/netadapt_dlp.py --out bench/_work/netadapt_dlp.json
    python bench/netadapt_dlp.py --report bench/_work/netadapt_dlp.json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

ARCH = "edge-int8"
PAIRS = {
    "digits_resnet": [("stem.0", "down2.0"), ("stem.0", "res_a.0"), ("res_a.0", "down2.0")],
    "lenet5": [("features.0", "classifier.0"), ("features.0", "classifier.2"), ("features.3", "classifier.2")],
    "resnet18": [("layer1.0.conv1", "layer3.0.conv1"), ("layer2.1.conv1", "layer4.0.conv1"),
                 ("conv1", "layer3.1.conv1")],
}


def thin(dep, group: str, frac: float) -> set[int]:
    from aics.compress.prune.importance import L2
    from aics.compress.prune.select import feasible_order

    gi = next(g.index for g in dep.groups if g.name == group)
    imp = L2()
    imp.prepare(dep)
    order = feasible_order(dep, gi, imp(dep.groups[gi]), 0.1)
    return {dep.class_root[(gi, c)] for c in order[:int(frac * len(order))]}


def table_vs_sim() -> list[dict]:
    from aics import zoo
    from aics.compress.prune.apply import pruned_graph
    from aics.compress.prune.dependency import DependencyGraph
    from aics.compress.prune.dlp_latency import SimulatedLatency

    rows = []
    for name, pairs in PAIRS.items():
        entry = zoo.get(name)
        shape = tuple(entry.input_shape)
        torch.manual_seed(0)
        dep = DependencyGraph.build(entry.build().eval(), shape)
        for context in (False, True):
            lat = SimulatedLatency(ARCH, context=context)
            lat.graph_latency_ms(pruned_graph(dep, set()))
            errs, composed, total = [], 0, 0
            for a, b in pairs:
                for frac in (0.25, 0.5):
                    ra, rb = thin(dep, a, frac), thin(dep, b, frac)
                    lat.graph_latency_ms(pruned_graph(dep, ra))
                    lat.graph_latency_ms(pruned_graph(dep, rb))
                    both = pruned_graph(dep, ra | rb)
                    total += 1
                    est = lat.estimate_cycles(both)
                    if est is None:
                        continue
                    direct = SimulatedLatency(ARCH).graph_latency_ms(both)
                    errs.append((lat.cycles_to_ms(est) - direct) / direct)
                    composed += 1
            rows.append({"model": name, "keying": "layer+next" if context else "layer", "combos": total,
                         "composed": composed, "max_abs_err": max(map(abs, errs), default=None),
                         "mean_abs_err": statistics.mean(map(abs, errs)) if errs else None,
                         "entries": len(lat.table), "simulations": lat.simulations})
    return rows


def trained_digits(seed: int, work: Path) -> Path:
    from aics import checkpoint
    from aics.compress.distill import fit
    from aics.data import DigitsConfig, load_digits
    from aics.train import TrainConfig
    from aics.zoo.digits_resnet import DigitsResNet

    path = work / f"digits_resnet_s{seed}.pt"
    if path.exists():
        return path
    split = load_digits(DigitsConfig(size=16))
    torch.manual_seed(seed)
    model = DigitsResNet()
    fit(model, split, TrainConfig(epochs=20, optimizer="sgd", lr=0.05, weight_decay=5e-4, seed=seed))
    checkpoint.save(checkpoint.from_module("digits_resnet", model, (1, 1, 16, 16), data=split.config), path)
    return path


def cache_timing(work: Path) -> dict:
    from aics import zoo
    from aics.compress.prune.apply import pruned_graph
    from aics.compress.prune.checkpoint_io import load_model
    from aics.compress.prune.dependency import DependencyGraph
    from aics.compress.prune.dlp_latency import SimulatedLatency
    from aics.compress.prune.netadapt import netadapt
    from aics.data import load_digits
    from aics.train import evaluate

    ckpt, model, _ = load_model(trained_digits(0, work))
    split = load_digits(ckpt.data)
    hold = (split.x_train[-360:], split.y_train[-360:])
    shape = (1, 1, 16, 16)
    out: dict = {}
    with tempfile.TemporaryDirectory() as d:
        for run in ("cold", "warm"):
            lat = SimulatedLatency(ARCH, d)
            t = time.perf_counter()
            res = netadapt(copy.deepcopy(model), shape, lat, 0.5 * lat.latency_ms(model, shape),
                           lambda m: evaluate(m, *hold))
            out[f"netadapt_{run}_s"] = time.perf_counter() - t
            out[f"netadapt_{run}_simulations"] = lat.simulations
            out[f"netadapt_{run}_stats"] = lat.stats()
            out["netadapt_latency_after_ms"] = res.latency_after_ms
        out["table_entries"] = len(lat.table)
        out["table_bytes"] = Path(lat.stats()["path"]).stat().st_size  # type: ignore[arg-type]
    entry = zoo.get("resnet18")
    torch.manual_seed(0)
    dep = DependencyGraph.build(entry.build().eval(), tuple(entry.input_shape))
    graph = pruned_graph(dep, thin(dep, "layer2.0.conv1", 0.5))
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        ms = SimulatedLatency(ARCH, d).graph_latency_ms(graph)
        out["resnet18_miss_s"] = time.perf_counter() - t
        t = time.perf_counter()
        again = SimulatedLatency(ARCH, d)
        ms2 = again.graph_latency_ms(graph)
        out["resnet18_hit_s"] = time.perf_counter() - t
        assert ms2 == ms and again.simulations == 0
        out["resnet18_ms"] = ms
    return out


def pruning(seeds: list[int], work: Path, finetune: int) -> list[dict]:
    from aics.compress.prune.dlp_latency import SimulatedLatency
    from aics.compress.prune.checkpoint_io import load_model
    from aics.compress.prune.workflow import PruneRequest, run

    rows = []
    for seed in seeds:
        ckpt_path = trained_digits(seed, work)
        _, model, _ = load_model(ckpt_path)
        lat0 = SimulatedLatency(ARCH).latency_ms(model, (1, 1, 16, 16))
        for method in ("netadapt", "netadapt-proxy", "l1"):
            with tempfile.TemporaryDirectory() as d:
                for cache in ("cold", "warm") if method == "netadapt" else ("cold",):
                    common = dict(model=str(ckpt_path), finetune_epochs=finetune, short_finetune_epochs=1, seed=seed,
                                  lr=0.01)
                    if method == "netadapt-proxy":  # no --arch: 50 % of the MAC-proxy latency
                        req = PruneRequest(method="netadapt", target_macs=0.5, **common)  # type: ignore[arg-type]
                    else:
                        req = PruneRequest(method=method, target_latency_ms=0.5 * lat0, arch=ARCH, cache=d,
                                           **common)  # type: ignore[arg-type]
                    t = time.perf_counter()
                    out = run(req)
                    wall = time.perf_counter() - t
                    r = dict(out.report)
                    if method == "netadapt-proxy":  # what the proxy's choice costs on the DLP
                        sim = SimulatedLatency(ARCH)
                        r["latency_before_ms"], r["latency_after_ms"] = lat0, sim.latency_ms(out.model, (1, 1, 16, 16))
                        r["latency_table"] = {"simulations": 0}
                    rows.append({"seed": seed, "method": method, "cache": cache if method != "netadapt-proxy" else "-",
                                 "wall_s": wall,
                                 **{k: r[k] for k in ("latency_before_ms", "latency_after_ms", "accuracy_before",
                                                      "accuracy_pruned", "accuracy_after", "macs_before",
                                                      "macs_after", "params_before", "params_after",
                                                      "latency_table", "prune_steps")}})
    return rows


def report(path: Path) -> str:
    data = json.loads(path.read_text())
    lines = ["| model | table keying | combos composed / tried | max abs error | mean abs error | entries | simulations |",
             "|---|---|---|---|---|---|---|"]
    for r in data["table"]:
        fmt = (lambda v: "-" if v is None else f"{100 * v:.2f} %")
        lines.append(f"| {r['model']} | {r['keying']} | {r['composed']} / {r['combos']} | {fmt(r['max_abs_err'])} | "
                     f"{fmt(r['mean_abs_err'])} | {r['entries']} | {r['simulations']} |")
    c = data["cache"]
    lines += ["", "| NetAdapt to 50 % latency, no fine-tunes | wall s | simulator runs | table hits / misses |",
              "|---|---|---|---|"]
    for run in ("cold", "warm"):
        s = c[f"netadapt_{run}_stats"]
        lines.append(f"| {run} table | {c[f'netadapt_{run}_s']:.2f} | {c[f'netadapt_{run}_simulations']} | "
                     f"{s['hits']} / {s['misses']} |")
    lines += ["", f"Table: {c['table_entries']} entries, {c['table_bytes']} bytes. ResNet-18 (thinned layer2.0.conv1) "
              f"one query: {c['resnet18_miss_s']:.3f} s simulated (miss), {c['resnet18_hit_s']:.3f} s from the "
              f"table file in a new process-level object (hit), {c['resnet18_ms']:.4f} ms.", ""]
    lines += ["| seed | method | table | latency before ms | after ms | after/before | acc before | acc pruned | "
              "acc after FT | MACs kept | params kept | NetAdapt iters | sims | wall s |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in data["pruning"]:
        lines.append(f"| {r['seed']} | {r['method']} | {r['cache']} | {r['latency_before_ms']:.5f} | "
                     f"{r['latency_after_ms']:.5f} | {r['latency_after_ms'] / r['latency_before_ms']:.3f} | "
                     f"{100 * r['accuracy_before']:.1f} | {100 * r['accuracy_pruned']:.1f} | "
                     f"{100 * r['accuracy_after']:.1f} | {r['macs_after'] / r['macs_before']:.3f} | "
                     f"{r['params_after'] / r['params_before']:.3f} | "
                     f"{r['prune_steps'] if r['method'].startswith('netadapt') else '-'} | "
                     f"{r['latency_table']['simulations']} | {r['wall_s']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("bench/_work/netadapt_dlp.json"))
    ap.add_argument("--report", type=Path)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--finetune-epochs", type=int, default=5)
    args = ap.parse_args()
    if args.report:
        print(report(args.report))
        return
    torch.set_num_threads(1)
    work = args.out.parent
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    data = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "arch": ARCH,
            "loadavg_start": list(os.getloadavg()), "cpus": os.cpu_count(),
            "torch": torch.__version__, "table": table_vs_sim()}
    data["cache"] = cache_timing(work)
    data["pruning"] = pruning(args.seeds, work, args.finetune_epochs)
    data["total_s"] = time.perf_counter() - t
    data["loadavg_end"] = list(os.getloadavg())  # the box is shared: wall times are only as good as this
    args.out.write_text(json.dumps(data, indent=1))
    print(report(args.out))


if __name__ == "__main__":
    main()
