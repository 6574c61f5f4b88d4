"""C simulation: compile an emitted project with the system C compiler, run its testbench on
quantized inputs and compare every output code with the integer reference executor.

Differences are bugs, not tolerances: ``CsimResult.bit_exact`` is the verdict, ``max_abs_diff``
(in output codes) says how far off a broken build is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aics.backends.hls.project import CFLAGS, HlsProject
from aics.errors import AicsError
from aics.ir.graph import Graph
from aics.reference import Executor
from aics.reference import qtensor as Q

_NP = {"int8_t": np.int8, "int16_t": np.int16, "int32_t": np.int32}


@dataclass(frozen=True)
class CsimResult:
    bit_exact: bool
    max_abs_diff: int  # in output codes
    mismatches: int  # output codes that differ
    vectors: int
    compile_seconds: float
    kernel_seconds: float  # time inside aics_top, measured by the testbench
    outputs: np.ndarray  # (vectors, *output shape) codes from the C program

    def to_dict(self) -> dict[str, object]:
        return {"bit_exact": self.bit_exact, "max_abs_diff": self.max_abs_diff, "mismatches": self.mismatches,
                "vectors": self.vectors, "compile_seconds": round(self.compile_seconds, 3),
                "kernel_seconds": round(self.kernel_seconds, 6),
                "inferences_per_second": round(self.vectors / self.kernel_seconds, 1) if self.kernel_seconds else None}


def compiler() -> str:
    """The system C compiler: ``$CC``, else cc / gcc / clang on PATH."""
    for cand in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cand and shutil.which(cand):
            return cand
    raise AicsError("no C compiler found (set CC or install gcc) for --csim")


def compile_project(outdir: Path, opt: str = "-O2") -> tuple[Path, float]:
    """Build ``outdir/aics_tb`` with the project's flags (``opt`` replaces -O2); (path, seconds)."""
    exe = outdir.resolve() / "aics_tb"
    flags = CFLAGS.replace("-O2", opt).split()
    start = time.perf_counter()
    done = subprocess.run([compiler(), *flags, "-o", str(exe), "aics_top.c", "aics_tb.c"], cwd=outdir,
                          capture_output=True, text=True)
    if done.returncode != 0:
        first = next((ln for ln in done.stderr.splitlines() if "error" in ln), done.stderr.strip()[:200])
        raise AicsError(f"C compilation of '{outdir}' failed: {first}")
    return exe, time.perf_counter() - start


def quantize_inputs(graph: Graph, x: np.ndarray) -> np.ndarray:
    """Float inputs (N, *input shape without batch) to input codes, as the reference quantizes."""
    qp = Q.QuantView(graph).qp(graph.inputs[0].name)
    assert qp is not None
    return Q.quantize(np.asarray(x, dtype=np.float32), qp)


def run_testbench(exe: Path, project: HlsProject, codes: np.ndarray) -> tuple[np.ndarray, float]:
    """Run the testbench on input codes (N, ...); (output codes (N, *out dims), seconds in aics_top)."""
    in_t, out_t = _NP[project.input.ctype], _NP[project.output.ctype]
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        np.ascontiguousarray(codes, dtype=in_t).tofile(src)
        done = subprocess.run([str(exe), str(src), str(dst)], capture_output=True, text=True)
        if done.returncode != 0:
            raise AicsError(f"testbench '{exe}' failed (exit {done.returncode}): {done.stderr.strip()[:200]}")
        out = np.fromfile(dst, dtype=out_t)
    seconds = float(done.stderr.split("seconds")[-1])
    return out.reshape(len(codes), *project.output.dims), seconds


def reference_codes(graph: Graph, codes: np.ndarray) -> np.ndarray:
    """The integer reference's output codes for each input vector (batch-1 graph, one at a time)."""
    exe = Executor(graph, "int")
    shape = graph.inputs[0].shape
    return np.stack([exe.run(c.reshape(shape))[0] for c in codes])


def csim(project: HlsProject, outdir: Path, x: np.ndarray, opt: str = "-O2") -> CsimResult:
    """Compile ``outdir`` (written from ``project``), run it on float inputs ``x`` (N, ...) and
    compare with the integer reference on the same quantized inputs."""
    exe, compile_s = compile_project(outdir, opt)
    codes = quantize_inputs(project.graph, x)
    got, kernel_s = run_testbench(exe, project, codes)
    want = reference_codes(project.graph, codes).reshape(got.shape)
    diff = np.abs(got.astype(np.int64) - want.astype(np.int64))
    return CsimResult(bool(diff.max(initial=0) == 0), int(diff.max(initial=0)), int((diff != 0).sum()),
                      len(codes), compile_s, kernel_s, got)


def seeded_inputs(graph: Graph, count: int = 1, seed: int = 0) -> np.ndarray:
    """Standard-normal float inputs (count, *input shape without batch) from ``seed``."""
    return np.random.default_rng(seed).standard_normal((count, *graph.inputs[0].shape[1:])).astype(np.float32)
