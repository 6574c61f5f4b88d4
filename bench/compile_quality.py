"""Schedule quality and speed of the DLP compiler (issue 5's benchmark).

For each zoo CNN at its default input (or ``--size``): PTQ int8 (2 seeded random calibration
inputs), compile for ``edge-int8``, timing simulation; simulated cycles / roofline lower bound
``max(MACs / peak MAC rate, compulsory DRAM bytes / bandwidth)`` (``aics.compiler.report``), and
the geometric mean. Then ResNet-50: compile + timing simulation wall time, compile + functional
simulation wall time, and float PyTorch CPU inference of the same model in the same run.

    python bench/compile_quality.py [--models resnet18,resnet50] [--size 224] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

DEFAULT = ("lenet5", "alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v1", "mobilenet_v2",
           "shufflenet_v2_x1_0", "squeezenet1_1", "googlenet", "densenet121", "se_resnet50", "vit_tiny",
           "conv_autoencoder")


def quality(models: list[str], size: int | None, arch_name: str) -> list[dict]:
    from aics.compiler.compile import compile_graph
    from aics.compiler.report import summary
    from aics.compiler.workflow import quantized_model
    from aics.dlp import sim
    from aics.dlp.arch_io import load_arch
    from aics.errors import AicsError

    arch = load_arch(arch_name)
    rows = []
    for name in models:
        shape = None if size is None or name == "lenet5" else (1, 3, size, size)
        try:
            q = quantized_model(name, input_shape=shape, calib_size=2)
            t0 = time.perf_counter()
            compiled = compile_graph(q, arch)
            t1 = time.perf_counter()
            timing = sim.run(compiled.program, arch, mode="timing").timing
            t2 = time.perf_counter()
        except AicsError as err:
            rows.append({"model": name, "error": str(err)})
            print(f"{name:22s} not compiled: {err}", flush=True)
            continue
        assert timing is not None
        r = summary(compiled, timing, arch)
        floor = unit_floor(compiled.graph, arch)
        row = {"model": name, "input": list(q.inputs[0].shape), "cycles": r["cycles"],
               "bound": r["roofline_bound_cycles"], "kind": r["roofline_bound"], "ratio": r["cycles"] / r["roofline_bound_cycles"],
               "utilization": r["utilization"], "dram_bytes": r["dram_bytes"], "unit_floor": floor,
               "compulsory_bytes": r["compulsory_dram_bytes"], "compile_s": t1 - t0, "timing_s": t2 - t1,
               # how much of the run the matrix unit is busy: near 1 means the array model, not the
               # schedule, is what separates the run from the roofline (fold fill/drain, idle columns)
               "matrix_busy": max(core["matrix"].busy for core in timing.units) / timing.cycles,
               "vector_busy": max(core["vector"].busy for core in timing.units) / timing.cycles,
               # the channel's transfer time (latencies not counted) over the run
               "dram_busy": timing.bytes["dram"] / (arch.dram.bandwidth_gbps / arch.frequency_ghz) / timing.cycles}
        rows.append(row)
        print(f"{name:22s} cycles {row['cycles']:>12,} bound {row['bound']:>12,} ({row['kind']}) "
              f"ratio {row['ratio']:.3f} util {100 * row['utilization']:.1f}% busy: matrix "
              f"{100 * row['matrix_busy']:.0f}% vector {100 * row['vector_busy']:.0f}% DRAM "
              f"{100 * row['dram_busy']:.0f}% unit floor / bound {row['unit_floor'] / row['bound']:.2f} "
              f"compile {row['compile_s']:.2f}s "
              f"timing {row['timing_s']:.2f}s", flush=True)
    return rows


def unit_floor(graph, arch) -> int:
    """An estimate of the fewest cycles the compute units need for ``graph`` on ``arch``, memory
    ignored: every conv / transposed conv / linear / matmul as one whole-layer GEMM per group on
    the systolic array (``gemm_cost``: the same fold model as the simulator; a grouped conv also
    as block-diagonal tiles of whole groups, whichever is cheaper), a depthwise conv on
    the vector unit when that is faster (one MAC per lane per cycle), the two units overlapped:
    ``max(sum of array cycles, sum of vector cycles)``. Not a proof (tiles could only add folds,
    but another split of the depthwise layers could balance the units better); it says how much
    of cycles / bound is the array model rather than the schedule."""
    from math import ceil, prod

    from aics.dlp.systolic import gemm_cost

    array = vector = 0
    for n in graph.nodes:
        if n.op == "conv2d":
            w = graph[n.inputs[1]].shape
            g = n.attrs.groups
            m, k, cols = n.shape[2] * n.shape[3], w[1] * w[2] * w[3], w[0] // g
            on_array = gemm_cost(arch.matrix, m, k, cols).cycles * g
            if g > 1:  # or block-diagonal tiles of whole groups about the array's width (zeros off the blocks)
                t = max(cols, arch.matrix.cols // cols * cols)
                on_array = min(on_array, ceil(w[0] / t) * gemm_cost(arch.matrix, m, t // cols * k, t).cycles)
            on_vector = ceil(m * k * w[0] / arch.vector.lanes) if w[1] == 1 and cols == 1 else None
            if on_vector is not None and on_vector < on_array:
                vector += on_vector
            else:
                array += on_array
        elif n.op == "conv_transpose2d":  # scatter form: each input pixel times the kernel, no zeros
            x, w, g = graph[n.inputs[0]].shape, graph[n.inputs[1]].shape, n.attrs.groups
            array += gemm_cost(arch.matrix, x[2] * x[3], w[0] // g, w[1] * w[2] * w[3]).cycles * g
        elif n.op == "linear":
            k = graph[n.inputs[1]].shape[1]
            array += gemm_cost(arch.matrix, prod(n.shape) // n.shape[-1], k, n.shape[-1]).cycles
        elif n.op == "matmul":
            a = graph[n.inputs[0]].shape
            array += gemm_cost(arch.matrix, a[-2], a[-1], n.shape[-1]).cycles * prod(n.shape[:-2])
    return max(array, vector)


def speed(size: int) -> dict:
    import torch

    from aics.compiler.workflow import quantized_model, simulate
    from aics.dlp.arch_io import load_arch
    from aics.models import load_torch

    arch = load_arch("edge-int8")
    q = quantized_model("resnet50", input_shape=(1, 3, size, size), calib_size=2)
    t0 = time.perf_counter()
    timing_only = simulate(q, arch, functional=False)
    t1 = time.perf_counter()
    functional = simulate(q, arch)
    t2 = time.perf_counter()
    torch.manual_seed(0)
    model = load_torch("resnet50").module.eval()
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32))
    with torch.no_grad():
        model(x)
        t3 = time.perf_counter()
        for _ in range(3):
            model(x)
        t4 = time.perf_counter()
    torch_s = (t4 - t3) / 3
    return {"input": size, "compile_timing_s": t1 - t0, "compile_functional_s": t2 - t1,
            "bit_exact": functional.report["bit_exact"], "cycles": timing_only.report["cycles"],
            "torch_cpu_s": torch_s, "functional_over_torch": (t2 - t1) / torch_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(DEFAULT))
    ap.add_argument("--size", type=int, default=None, help="input side for the ImageNet models (default: theirs)")
    ap.add_argument("--arch", default="edge-int8")
    ap.add_argument("--speed-size", type=int, default=224)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rows = quality(args.models.split(","), args.size, args.arch)
    ratios = [r["ratio"] for r in rows if "ratio" in r]
    geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios)) if ratios else float("nan")
    floors = [r["unit_floor"] / r["bound"] for r in rows if "ratio" in r]
    geo_floor = math.exp(sum(math.log(f) for f in floors) / len(floors)) if floors else float("nan")
    print(f"geometric mean cycles / roofline bound over {len(ratios)} models: {geo:.3f} "
          f"(unit floor / bound: {geo_floor:.3f})")
    out = {"arch": args.arch, "models": rows, "geomean_ratio": geo, "geomean_unit_floor_ratio": geo_floor}
    if not args.no_speed:
        out["resnet50"] = speed(args.speed_size)
        print(json.dumps(out["resnet50"], indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
