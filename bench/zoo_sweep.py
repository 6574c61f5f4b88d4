"""Every zoo network through the compiler and the simulator: compiles? bit-exact? cycles / bound?

    python bench/zoo_sweep.py [--arch edge-int8] [--timing-only NAME,...] [--skip NAME,...]

Each network: int8 PTQ (one seeded random calibration input), ``compile_graph``, timing and (unless
listed in ``--timing-only``) functional simulation compared with the integer reference. One line per
network; a compile or simulation error is printed as such, not raised.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    from aics import zoo
    from aics.compiler.workflow import quantized_model, simulate
    from aics.dlp.arch_io import load_arch
    from aics.errors import AicsError

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="edge-int8")
    ap.add_argument("--timing-only", default="resnet101,resnet152", help="networks not run on data")
    ap.add_argument("--skip", default="", help="networks left out")
    args = ap.parse_args()
    arch = load_arch(args.arch)
    timing_only, skip = set(args.timing_only.split(",")), set(filter(None, args.skip.split(",")))
    for name in sorted(set(zoo.MODELS) - skip):
        t = time.perf_counter()
        try:
            r = simulate(quantized_model(name, calib_size=1), arch, functional=name not in timing_only).report
        except AicsError as err:
            print(f"{name:24s} error: {err}", flush=True)
            continue
        exact = "timing only" if r["bit_exact"] is None else f"bit_exact={r['bit_exact']}"
        print(f"{name:24s} {exact} cycles/bound={r['roofline_ratio']:.2f} host_cycles={r['host_cycles']} "
              f"{time.perf_counter() - t:.1f}s", flush=True)


if __name__ == "__main__":
    main()
