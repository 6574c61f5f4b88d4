"""Int8 post-training quantization: ours (integer reference executor) vs torch.ao (FX graph mode).

    .venv/bin/python bench/quant_vs_torch_ao.py [--epochs 20] [--calib 512] [--repeats 5]

Each model is trained by ``aics.train`` on the digits split (seed 0) and quantized twice from the
same float weights with the same calibration images (``calibration_subset``, seed 0):

* ours: ``aics.compress.quant`` PTQ (BN folded, per-channel symmetric int8 weights, asymmetric int8
  activations calibrated by min-max / percentile / MSE), scored by the integer reference executor;
* torch.ao: ``prepare_fx`` / ``convert_fx`` with ``get_default_qconfig_mapping("x86")`` (fbgemm
  kernels; per-channel symmetric weights, HistogramObserver activations with reduce_range, i.e.
  7-bit activation codes), scored by torch's quantized CPU inference.

Speed: wall time of the whole test set (360 images, batches of 120) through our integer reference
executor vs torch's quantized model, one thread each, median of ``--repeats`` runs. Prints Markdown.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time
import warnings

import numpy as np
import torch
from torch import nn

from aics.compiler.passes import fold_bn
from aics.compress.quant.plan import QuantPlan
from aics.compress.quant.workflow import EVAL_BATCH, Subject, quantize_subject, transplant
from aics.data import calibration_subset, load_digits, padded_batches
from aics.reference import Executor
from aics.train import TrainConfig, accuracy, evaluate, train_model

MODELS = [  # (label, zoo name)
    ("LeNet-5, digits 32x32", "lenet5"),
    ("MLP 784-256-128-10, digits 28x28", "mnist_mlp"),
    ("digits_resnet (BN + residual), digits 16x16", "digits_resnet"),
]


def torch_ao(model: nn.Module, calib: np.ndarray, example: torch.Tensor) -> nn.Module:
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "x86"
    prepared = prepare_fx(model.eval(), get_default_qconfig_mapping("x86"), (example,))
    with torch.no_grad():
        for xb, _ in padded_batches(calib, EVAL_BATCH):
            prepared(torch.from_numpy(xb))
    return convert_fx(prepared)


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_model(label: str, spec: str, args: argparse.Namespace) -> dict:
    ckpt, trained = train_model(spec, "digits", TrainConfig(epochs=args.epochs, seed=0), progress=False)
    module = ckpt.build()
    split = load_digits(ckpt.data)
    subject = Subject(spec, module, ckpt.input_shape, split)
    row = {"label": label, "float": trained.accuracy, "train_s": trained.seconds}
    for calib in ("minmax", "percentile", "mse"):
        result = quantize_subject(subject, QuantPlan(calib=calib, calib_size=args.calib))
        row[f"ours_{calib}"] = result.quant_accuracy
        if calib == "minmax":
            graph = result.graph
    calib_x = calibration_subset(split.x_train, args.calib, 0)
    quantized = torch_ao(ckpt.build(), calib_x, torch.from_numpy(split.x_test[:EVAL_BATCH]))
    row["torch_ao"] = evaluate(quantized, split.x_test, split.y_test, batch_size=EVAL_BATCH)

    def run_torch() -> np.ndarray:
        with torch.no_grad():
            return np.concatenate([quantized(torch.from_numpy(xb)).argmax(-1).numpy()[:v]
                                   for xb, v in padded_batches(split.x_test, EVAL_BATCH)])

    row["torch_s"] = median_time(run_torch, args.repeats)
    torch_pred = run_torch()
    # Our executor on the batch-120 version of the quantized graph (same params and annotations).
    batched = transplant(graph, fold_bn(subject.graph(EVAL_BATCH)))
    exe = Executor(batched, "int")

    def run_ours() -> np.ndarray:
        return np.concatenate([exe.run(xb)[0].argmax(-1)[:v] for xb, v in padded_batches(split.x_test, EVAL_BATCH)])

    row["ours_s"] = median_time(run_ours, args.repeats)
    ours_pred = run_ours()
    row["check"] = accuracy(ours_pred, split.y_test)
    row["agree"] = float(np.mean(ours_pred == torch_pred))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--calib", type=int, default=512, help="calibration images (train split)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # torch.ao.quantization's deprecation notices
    torch.set_num_threads(1)  # numpy's BLAS is pinned to one thread by the caller (see RESULTS.md)
    rows = [bench_model(label, spec, args) for label, spec in MODELS]
    print(f"Date: {datetime.date.today()}; torch {torch.__version__}, numpy {np.__version__}, "
          f"{platform.processor() or platform.machine()}, 1 thread; {args.epochs} epochs, "
          f"{args.calib} calibration images.\n")
    print("| model | float | ours int8 min-max | ours percentile | ours MSE | torch.ao x86 | "
          "predictions agree (ours min-max vs torch.ao) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    pct = lambda v: f"{100 * v:.2f} %"  # noqa: E731
    for r in rows:
        print(f"| {r['label']} | {pct(r['float'])} | {pct(r['ours_minmax'])} | {pct(r['ours_percentile'])} | "
              f"{pct(r['ours_mse'])} | {pct(r['torch_ao'])} | {pct(r['agree'])} |")
    print("\n| model | ours (numpy integer reference) | torch.ao quantized CPU | ratio ours / torch |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['label']} | {1000 * r['ours_s']:.1f} ms | {1000 * r['torch_s']:.1f} ms | "
              f"{r['ours_s'] / r['torch_s']:.1f}x |")
    for r in rows:
        assert r["check"] == r["ours_minmax"], "timed executor disagrees with the scored one"


if __name__ == "__main__":
    main()
