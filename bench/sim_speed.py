"""Timing-simulator speed: simulated instructions per second on 1,000,000-instruction programs.

Two programs, both timing only (``aics.dlp.sim.timing.simulate``), on the edge-int8 preset, each
in two forms: as built in Python (a tuple of instruction objects per core) and as a program file
(``.dlp`` bytes, loaded with ``loads_program``: the code stays encoded and the simulator reads it
with numpy). Loading is timed apart from simulating.

* ``textbook-loop``: the double-buffered round of exercise 7.9 (compute, load, store, sync) in a
  ``loop 333334``: 1,000,002 instructions plus 333,334 syncs after expansion;
* ``full-form``: straight-line code (no loops, no syncs), a double-buffered tiled int8 GEMM with
  requantisation: per tile a strided DRAM load of A, a weight load, a matmul accumulating into one
  of two NRAM buffers, a requant and a store, 1,000,000 instructions, every DRAM address distinct.
  Ordering comes from the address hazards alone.
* ``synced``: the same tiles with a ``sync`` after each (1,000,000 instructions + 200,000 syncs):
  200,000 distinct epochs, which measures the per-epoch cost.

Usage: ``.venv/bin/python bench/sim_speed.py [--instructions N]``. Building the programs (and
their file bytes) is not timed; loading the file and the simulation (decoding, costing, hazards,
scheduling, report) are. Best of ``--repeats`` runs; the first run of the process also pays for
importing numba and loading its cached machine code (reported apart).
"""

from __future__ import annotations

import argparse
import time
from itertools import chain

from aics.dlp.arch_io import load_arch
from aics.dlp.asm import assemble
from aics.dlp.isa import DType, Instr, Loc, MatMul, Move, Requant, Space, Sync
from aics.dlp.program import Program, dump_program, loads_program
from aics.dlp.sim.timing import simulate

D, N, W = Space.DRAM, Space.NRAM, Space.WRAM


def textbook_loop(count: int) -> Program:
    rounds = -(-count // 3)
    return assemble(f"""
        loop {rounds}
            compute MAC_32 1048576
            move DRAM NRAM 32768
            move NRAM DRAM 16384
            sync
        endloop
    """)


def full_form(count: int) -> Program:
    """Tiles of C[64, 64] += A[64, 256] @ B[256, 64] (int8), A and C double-buffered in NRAM."""
    code: list[Instr] = []
    tile = 0
    a_bytes, b_bytes, c_bytes = 64 * 256, 256 * 64, 64 * 64 * 4
    while len(code) < count:
        buf = tile % 2
        a, c, y = buf * a_bytes, 2 * a_bytes + buf * c_bytes, 2 * a_bytes + 2 * c_bytes + buf * 4096
        code += [
            Move(src=Loc(D, tile * a_bytes), dst=Loc(N, a), shape=(1, 64, 256), src_strides=(0, 256)),
            Move(src=Loc(D, 1 << 30 | (tile % 16) * b_bytes), dst=Loc(W, buf * b_bytes), shape=(1, 1, b_bytes)),
            MatMul(m=64, k=256, n=64, a=a, b=buf * b_bytes, c=c, dtype=DType.INT8, a_offset=-3),
            Requant(rows=64, cols=64, src=c, bias=0x10000, mult=0x10100, shift=0x10200, dst=y, dtype=DType.INT8,
                    out_zp=-3, qmin=-3, qmax=127),
            Move(src=Loc(N, y), dst=Loc(D, 1 << 31 | tile * 4096), shape=(1, 1, 4096)),
        ]
        tile += 1
    return Program(code=(tuple(code[:count]),), dram_size=1 << 33)


def synced(count: int) -> Program:
    """``full_form`` with a ``sync`` after every tile of five instructions."""
    code = full_form(count).code[0]
    return Program(code=(tuple(chain.from_iterable((*code[i:i + 5], Sync()) for i in range(0, len(code), 5))),),
                   dram_size=1 << 33)


def bench(name: str, program: Program, arch_name: str, repeats: int) -> None:
    """Best of ``repeats`` runs per form, wall and CPU time (the machine is shared: CPU time is
    steadier)."""
    arch = load_arch(arch_name)
    data = dump_program(program)
    for form in ("objects", "file"):
        wall = cpu = load_wall = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            loaded = loads_program(data) if form == "file" else program
            load_wall = min(load_wall, time.perf_counter() - start)
            start, start_cpu = time.perf_counter(), time.process_time()
            report = simulate(loaded, arch)
            wall = min(wall, time.perf_counter() - start)
            cpu = min(cpu, time.process_time() - start_cpu)
        load = load_wall if form == "file" else 0.0
        n = report.instructions
        print(f"| {name} | {form} | {n:,} | {report.cycles:,} | {load:.2f} | {wall:.2f} | {cpu:.2f} | "
              f"{n / wall / 1e6:.2f} | {n / cpu / 1e6:.2f} | {n / (load + wall) / 1e6:.2f} |")


def first_run() -> None:
    """A fresh process's first simulation (numba imported, machine code loaded from its cache)."""
    start = time.perf_counter()
    simulate(full_form(1000), load_arch("edge-int8"))
    print(f"\nFirst simulation in this process (1,000 instructions): {time.perf_counter() - start:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instructions", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    first_run()
    print("| program | form | instructions | cycles | load s | simulate s (wall) | simulate s (CPU) | "
          "M instr/s (wall) | M instr/s (CPU) | M instr/s (load + simulate) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    bench("textbook-loop", textbook_loop(args.instructions), "edge-int8", args.repeats)
    bench("full-form", full_form(args.instructions), "edge-int8", args.repeats)
    bench("synced", synced(args.instructions), "edge-int8", args.repeats)


if __name__ == "__main__":
    main()
