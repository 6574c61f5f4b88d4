"""Compute time of a matrix unit, in closed form (never a loop over cycles or PEs).

A GEMM ``C[M,N] = A[M,K] @ B[K,N]`` on an R x C systolic array is mapped as SCALE-Sim maps it
(im2col: M = output pixels, K = window, N = filters):

====  ==========  ==========  ===========  =====================
df    on rows     on cols     in time (T)  cycles per fold
====  ==========  ==========  ===========  =====================
os    M           N           K            T + R + C - 2
ws    K           N           M            T + 2R + C - 2
is    K           M           N            T + 2R + C - 2
====  ==========  ==========  ===========  =====================

Folds run one after another, each filling and draining fully, partial folds paying the full
fill/drain: ``cycles = ceil(rows_mapped / R) * ceil(cols_mapped / C) * per_fold``. SCALE-Sim reports
one cycle less than this (its ``Total Cycles`` is the index of the last cycle, its issue #125);
``aics.dlp.scalesim_io`` applies that offset when it writes SCALE-Sim's report format.
``ideal`` arrays take ``ceil(M*K*N / macs_per_cycle)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from aics.dlp.arch import MatrixUnit


@dataclass(frozen=True)
class MatrixCost:
    cycles: int
    macs: int
    folds: int
    mapping_efficiency: float  # mean over folds of used PEs / (R*C)
    compute_util: float  # macs / (R*C*cycles)


def gemm_cost(unit: MatrixUnit, m: int, k: int, n: int, dtype: str = "int8") -> MatrixCost:
    """Cycles for one GEMM of shape (m, k) x (k, n) on ``unit``."""
    macs = m * k * n
    if macs == 0:
        return MatrixCost(0, 0, 0, 0.0, 0.0)
    if unit.kind == "ideal":
        rate = ideal_rate(unit, dtype)
        cycles = ceil(macs / rate)
        return MatrixCost(cycles, macs, 1, 1.0, macs / (rate * cycles))
    R, C = unit.rows, unit.cols
    if unit.dataflow == "os":
        on_rows, on_cols, t, per_fold = m, n, k, k + R + C - 2
    elif unit.dataflow == "ws":
        on_rows, on_cols, t, per_fold = k, n, m, m + 2 * R + C - 2
    else:  # "is"
        on_rows, on_cols, t, per_fold = k, m, n, n + 2 * R + C - 2
    row_folds, col_folds = ceil(on_rows / R), ceil(on_cols / C)
    folds = row_folds * col_folds
    cycles = folds * per_fold
    # Used PEs summed over all folds equals on_rows * on_cols (each element mapped exactly once).
    mapping = on_rows * on_cols / (folds * R * C)
    return MatrixCost(cycles, macs, folds, mapping, macs / (R * C * cycles))


def ideal_rate(unit: MatrixUnit, dtype: str) -> int:
    """MACs per cycle of an ideal unit for ``dtype`` (falls back to rows*cols)."""
    return unit.macs_per_cycle.get(dtype, unit.rows * unit.cols)
