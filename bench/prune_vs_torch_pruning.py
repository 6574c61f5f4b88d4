#!/usr/bin/env python3
"""Our structured pruning vs Torch-Pruning (DepGraph), same model, data, budget and training loop.

For each dataset (digits with ``digits_resnet``, MNIST-1D with ``cnn1d``), seed, MAC target
(fraction of the unpruned model's MACs, counted by ``aics.analysis`` for both tools) and criterion
(L1, Taylor) x scope (local, global), prune a copy of the same trained float model with
* ours: ``aics.compress.prune.prune_step`` (one shot, per-layer-normalised global ranking, 10% floor),
* Torch-Pruning 1.6: ``MetaPruner`` stepped 1% at a time until the MAC target (the recipe of its
  reproduce/main.py and of the shared anchor), Taylor gradients recomputed before every step,
then fine-tune with the same loop (``aics.compress.distill.fit``: SGD-Nesterov, cosine, seed) and
record accuracy right after pruning, after 1 epoch and after the full budget, plus wall times.
Ours is also run with Hinton KD from the unpruned model (L1, local).

Needs torch-pruning and mnist1d: run inside ``bench/.venv-tp`` (re-executes itself there if it
exists); MNIST-1D comes from ``mnist1d.data.make_dataset`` with its default arguments (generated
locally, never downloaded).

    python bench/prune_vs_torch_pruning.py --datasets digits --out bench/_work/prune_digits.json
    python bench/prune_vs_torch_pruning.py --report bench/_work/prune_digits.json bench/_work/prune_mnist1d.json
    python bench/prune_vs_torch_pruning.py --criteria-table --out bench/_work/prune_criteria.json

``--criteria-table`` (ours only, digits): every criterion (l1, l2, taylor, slim, lasso, random), local,
at 50 % and 25 % MACs, fine-tuned with plain cross-entropy, KD, attention transfer and feature mimic.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-tp" / "bin" / "python"

try:
    import torch_pruning  # noqa: F401
except ImportError:
    if VENV.exists() and Path(sys.prefix).resolve() != VENV.parent.parent.resolve():
        os.execv(str(VENV), [str(VENV), __file__, *sys.argv[1:]])
    if "--report" not in sys.argv:
        sys.exit("torch-pruning is not installed: python -m venv bench/.venv-tp && bench/.venv-tp/bin/pip install "
                 "torch==2.13.0 torch-pruning mnist1d scikit-learn -e .")

import numpy as np  # noqa: E402
import torch  # noqa: E402


def load_split(name: str):
    from aics.data import DigitsConfig, Split, load_digits

    if name == "digits":
        return load_digits(DigitsConfig(size=16)), "digits_resnet", (1, 1, 16, 16)
    from mnist1d.data import get_dataset_args, make_dataset

    d = make_dataset(get_dataset_args())
    x, xt = d["x"].astype(np.float32), d["x_test"].astype(np.float32)
    mean, std = float(x.mean()), float(x.std())
    split = Split((x - mean) / std, d["y"].astype(np.int64), (xt - mean) / std, d["y_test"].astype(np.int64),
                  mean, std, DigitsConfig())  # config unused for 1-D data
    return split, "cnn1d", (1, 40)


def macs_of(model, shape) -> int:
    from aics.analysis.analyze import analyze
    from aics.ir.torch_import import import_module

    return analyze(import_module(model, shape)).total.macs


def calib_batches(split, n=256, bs=64):
    x, y = torch.from_numpy(split.x_train[:n]), torch.from_numpy(split.y_train[:n])
    return [(x[i:i + bs], y[i:i + bs]) for i in range(0, n, bs)]


def prune_ours(model, shape, split, criterion, scope, target):
    from aics.compress.prune import L1, Budget, Taylor, prune_step

    imp = L1() if criterion == "l1" else Taylor(calib_batches(split))
    return prune_step(model, shape, imp, Budget(macs=target), scope, min_keep=0.1).model


def prune_tp(model, shape, split, criterion, scope, target, base_macs):
    import torch_pruning as tp

    example = torch.zeros(shape)
    imp = tp.importance.MagnitudeImportance(p=1) if criterion == "l1" else tp.importance.TaylorImportance()
    pruner = tp.pruner.MetaPruner(model, example, importance=imp, global_pruning=scope == "global",
                                  pruning_ratio=1.0, max_pruning_ratio=0.95, iterative_steps=100,
                                  ignored_layers=[model.fc])
    while macs_of(model, shape) > target * base_macs and pruner.current_step < pruner.iterative_steps:
        if criterion == "taylor":
            model.eval()
            model.zero_grad(set_to_none=True)
            for x, y in calib_batches(split):
                (torch.nn.functional.cross_entropy(model(x), y, reduction="sum") / 256).backward()
        pruner.step()
    model.zero_grad(set_to_none=True)
    return model


def run_one(tool, float_model, shape, split, criterion, scope, target, base_macs, seed, ft_epochs, distill):
    from aics.compress.distill import DistillConfig, distill as run_distill, fit
    from aics.train import TrainConfig, evaluate

    model = copy.deepcopy(float_model)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    if tool == "ours":
        model = prune_ours(model, shape, split, criterion, scope, target)
    else:
        model = prune_tp(model, shape, split, criterion, scope, target, base_macs)
    prune_s = time.perf_counter() - t0
    acc0 = evaluate(model, split.x_test, split.y_test)
    curve = []
    cfg = TrainConfig(epochs=ft_epochs, optimizer="sgd", lr=0.01, weight_decay=5e-4, seed=seed + 1000)
    record = lambda _: curve.append(evaluate(model, split.x_test, split.y_test))  # noqa: E731
    t0 = time.perf_counter()
    if distill:
        run_distill(model, copy.deepcopy(float_model), split, cfg, DistillConfig(distill), shape, on_epoch=record)
    else:
        fit(model, split, cfg, on_epoch=record)
    return dict(tool=tool + (f"+{distill}" if distill else ""), criterion=criterion, scope=scope, target=target,
                seed=seed, mac_frac=macs_of(model, shape) / base_macs, acc_pruned=acc0, acc_1=curve[0],
                acc_final=curve[-1], prune_s=prune_s, finetune_s=time.perf_counter() - t0)


def main_run(args) -> None:
    from aics import zoo
    from aics.compress.distill import fit
    from aics.train import TrainConfig, evaluate

    rows = []
    for dataset in args.datasets:
        split, model_name, shape = load_split(dataset)
        for seed in args.seeds:
            torch.manual_seed(seed)
            float_model = zoo.get(model_name).build()
            fit(float_model, split, TrainConfig(epochs=args.epochs, optimizer="sgd", lr=0.05, weight_decay=5e-4, seed=seed))
            base_macs = macs_of(float_model, shape)
            float_acc = evaluate(float_model, split.x_test, split.y_test)
            print(f"[{dataset} seed {seed}] float acc {float_acc:.4f}, {base_macs} MACs", flush=True)
            rows.append(dict(dataset=dataset, tool="float", seed=seed, acc_final=float_acc, mac_frac=1.0))
            for target in args.targets:
                jobs = [(tool, c, s, None) for c in args.criteria for s in args.scopes for tool in ("ours", "tp")]
                jobs += [("ours", "l1", "local", d) for d in args.distill]
                for tool, crit, scope, dist in jobs:
                    r = run_one(tool, float_model, shape, split, crit, scope, target, base_macs, seed,
                                args.ft_epochs, dist)
                    rows.append(dict(dataset=dataset, **r))
                    print(f"  {target:.2f} {r['tool']:9s} {crit:6s} {scope:6s} macs {r['mac_frac']:.3f} "
                          f"acc {r['acc_pruned']:.3f} -> {r['acc_1']:.3f} -> {r['acc_final']:.4f} "
                          f"({r['prune_s']:.1f}+{r['finetune_s']:.1f}s)", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(dict(args=vars(args), rows=rows), indent=1))


def prune_criterion(float_model, shape, split, criterion, target, seed):
    """Ours, local ranking; slim sparsifies BN scales first (3 epochs, L1 1e-4), lasso refits next layers."""
    from aics.compress.distill import fit
    from aics.compress.prune import BNScale, Budget, L1, L2, Lasso, Random, Taylor, prune_step, reconstruct
    from aics.compress.prune.importance import slimming_penalty
    from aics.train import TrainConfig

    model = copy.deepcopy(float_model)
    calib = torch.from_numpy(split.x_train[:256])
    if criterion == "slim":
        fit(model, split, TrainConfig(epochs=3, optimizer="sgd", lr=0.01, weight_decay=5e-4, seed=seed),
            lambda x, y, logits: torch.nn.functional.cross_entropy(logits, y) + slimming_penalty(model, 1e-4))
    imp = {"l1": L1, "l2": L2, "slim": BNScale, "random": lambda: Random(seed),
           "taylor": lambda: Taylor(calib_batches(split)), "lasso": lambda: Lasso([calib])}[criterion]()
    res = prune_step(model, shape, imp, Budget(macs=target), "local", min_keep=0.1)
    if criterion == "lasso":
        reconstruct(res.model, float_model, res.plan, [calib])
    return res.model


def main_criteria(args) -> None:
    from aics import zoo
    from aics.compress.distill import DistillConfig, distill, fit
    from aics.train import TrainConfig, evaluate

    split, model_name, shape = load_split("digits")
    rows = []
    for seed in args.seeds:
        torch.manual_seed(seed)
        float_model = zoo.get(model_name).build()
        fit(float_model, split, TrainConfig(epochs=args.epochs, optimizer="sgd", lr=0.05, weight_decay=5e-4, seed=seed))
        rows.append(dict(tool="float", seed=seed, acc=evaluate(float_model, split.x_test, split.y_test)))
        for target in (0.5, 0.25):
            for crit in ("l1", "l2", "taylor", "slim", "lasso", "random"):
                pruned = prune_criterion(float_model, shape, split, crit, target, seed)
                acc0 = evaluate(pruned, split.x_test, split.y_test)
                for dist in ("none", "kd", "at", "mimic"):
                    model = copy.deepcopy(pruned)
                    cfg = TrainConfig(epochs=args.ft_epochs, optimizer="sgd", lr=0.01, weight_decay=5e-4, seed=seed + 1000)
                    if dist == "none":
                        fit(model, split, cfg)
                    else:
                        distill(model, copy.deepcopy(float_model), split, cfg, DistillConfig(dist), shape)
                    acc = evaluate(model, split.x_test, split.y_test)
                    rows.append(dict(tool="ours", seed=seed, target=target, criterion=crit, distill=dist,
                                     acc_pruned=acc0, acc=acc, mac_frac=macs_of(model, shape) / macs_of(float_model, shape)))
                    print(f"  seed {seed} {target:.2f} {crit:6s} {dist:5s} {acc0:.3f} -> {acc:.4f}", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(dict(args=vars(args), rows=rows), indent=1))


def report_criteria(rows) -> None:
    fl = [r["acc"] for r in rows if r["tool"] == "float"]
    print(f"\n**digits, every criterion** (ours, local; float {_fmt(fl)} %, {len(fl)} seeds; accuracy % after the "
          f"fine-tune, mean ± std)\n")
    print("| MAC target | criterion | right after pruning | plain CE | KD | attention transfer | feature mimic |")
    print("|---|---|---|---|---|---|---|")
    for t in (0.5, 0.25):
        for c in ("l1", "l2", "taylor", "slim", "lasso", "random"):
            g = [r for r in rows if r.get("target") == t and r.get("criterion") == c]
            if not g:
                continue
            cells = [_fmt([r["acc"] for r in g if r["distill"] == d]) for d in ("none", "kd", "at", "mimic")]
            pruned = _fmt([r["acc_pruned"] for r in g if r["distill"] == "none"])
            print(f"| {t:.0%} | {c} | {pruned} | " + " | ".join(cells) + " |")


def _fmt(values, scale=100.0) -> str:
    vals = [v * scale for v in values]
    return f"{statistics.mean(vals):.1f} ± {statistics.pstdev(vals):.1f}" if len(vals) > 1 else f"{vals[0]:.1f}"


def main_report(paths) -> None:
    rows = [r for p in paths for r in json.loads(Path(p).read_text())["rows"]]
    if rows and "distill" in rows[-1]:
        report_criteria(rows)
        return
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        sub = [r for r in rows if r["dataset"] == dataset]
        fl = [r["acc_final"] for r in sub if r["tool"] == "float"]
        print(f"\n**{dataset}** (float model {_fmt(fl)} %, {len(fl)} seeds; accuracy %, mean ± std over seeds)\n")
        print("| MAC target | criterion | scope | tool | MACs kept | acc right after pruning | after 1 FT epoch "
              "| after full FT | prune s | FT s |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        keys = dict.fromkeys((r["target"], r["criterion"], r["scope"], r["tool"]) for r in sub if r["tool"] != "float")
        for t, c, s, tool in keys:
            g = [r for r in sub if (r.get("target"), r.get("criterion"), r.get("scope"), r["tool"]) == (t, c, s, tool)]
            print(f"| {t:.0%} | {c} | {s} | {tool} | {statistics.mean(r['mac_frac'] for r in g):.3f} | "
                  f"{_fmt([r['acc_pruned'] for r in g])} | {_fmt([r['acc_1'] for r in g])} | "
                  f"**{_fmt([r['acc_final'] for r in g])}** | {statistics.mean(r['prune_s'] for r in g):.2f} | "
                  f"{statistics.mean(r['finetune_s'] for r in g):.1f} |")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["digits", "mnist1d"], choices=["digits", "mnist1d"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--targets", type=float, nargs="+", default=[0.5, 0.25, 0.1])
    p.add_argument("--criteria", nargs="+", default=["l1", "taylor"])
    p.add_argument("--scopes", nargs="+", default=["local", "global"])
    p.add_argument("--distill", nargs="*", default=["kd"])
    p.add_argument("--epochs", type=int, default=20, help="float training epochs")
    p.add_argument("--ft-epochs", type=int, default=5, help="fine-tune epochs after pruning (same for both tools)")
    p.add_argument("--out", default=str(HERE / "_work" / "prune_vs_tp.json"))
    p.add_argument("--report", nargs="+", help="print the markdown tables of result JSON files and exit")
    p.add_argument("--criteria-table", action="store_true", help="ours only: every criterion x distillation on digits")
    a = p.parse_args()
    torch.set_num_threads(1)
    if a.report:
        main_report(a.report)
    elif a.criteria_table:
        main_criteria(a)
    else:
        main_run(a)
