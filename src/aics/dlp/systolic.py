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

from dataclasses import dataclass, replace
from math import ceil

from aics.dlp.arch import MatrixUnit
from aics.errors import ShapeError


@dataclass(frozen=True)
class MatrixCost:
    cycles: int
    macs: int
    folds: int
    mapping_efficiency: float  # mean over folds of used PEs / (R*C)
    compute_util: float  # macs / (R*C*cycles)

    def repeated(self, times: int) -> MatrixCost:
        """The cost of ``times`` identical GEMMs run one after another (groups, depthwise)."""
        return replace(self, cycles=self.cycles * times, macs=self.macs * times,
                       folds=self.folds * times)


@dataclass(frozen=True)
class FoldShape:
    """How one GEMM maps onto a systolic array (the table above)."""

    on_rows: int  # extent mapped on the array's rows (Sr in SCALE-Sim)
    on_cols: int  # extent mapped on the array's columns (Sc)
    t: int  # extent streamed in time (T)
    per_fold: int  # cycles of one fold, fill and drain included
    folds: int


def fold_shape(unit: MatrixUnit, m: int, k: int, n: int) -> FoldShape:
    """Sr, Sc, T, cycles per fold and fold count of GEMM (m, k) x (k, n) on a systolic ``unit``."""
    R, C = unit.rows, unit.cols
    if unit.dataflow == "os":
        on_rows, on_cols, t, per_fold = m, n, k, k + R + C - 2
    elif unit.dataflow == "ws":
        on_rows, on_cols, t, per_fold = k, n, m, m + 2 * R + C - 2
    else:  # "is"
        on_rows, on_cols, t, per_fold = k, m, n, n + 2 * R + C - 2
    return FoldShape(on_rows, on_cols, t, per_fold, ceil(on_rows / R) * ceil(on_cols / C))


def gemm_cost(unit: MatrixUnit, m: int, k: int, n: int, dtype: str = "int8") -> MatrixCost:
    """Cycles for one GEMM of shape (m, k) x (k, n) on ``unit``."""
    macs = m * k * n
    if macs == 0:
        return MatrixCost(0, 0, 0, 0.0, 0.0)
    if unit.kind == "ideal":
        rate = ideal_rate(unit, dtype)
        cycles = ceil(macs / rate)
        return MatrixCost(cycles, macs, 1, 1.0, macs / (rate * cycles))
    shape = fold_shape(unit, m, k, n)
    cycles = shape.folds * shape.per_fold
    pes = unit.rows * unit.cols
    # Used PEs summed over all folds equals on_rows * on_cols (each element mapped exactly once).
    mapping = shape.on_rows * shape.on_cols / (shape.folds * pes)
    return MatrixCost(cycles, macs, shape.folds, mapping, macs / (pes * cycles))


def conv_cost(unit: MatrixUnit, out_pixels: int, kernel: int, in_channels: int,
              out_channels: int, groups: int = 1, dtype: str = "int8") -> MatrixCost:
    """Cycles for a convolution lowered by im2col, one GEMM per group, groups run in sequence.

    ``kernel`` is kh*kw. Each group is the GEMM (out_pixels, kernel*in_channels/groups) x
    (.., out_channels/groups). A depthwise conv (groups = in_channels) is thus ``in_channels``
    one-channel GEMMs, which is how SCALE-Sim runs its ``DP`` layers.
    """
    if in_channels % groups or out_channels % groups:
        raise ShapeError(f"groups={groups} must divide in_channels={in_channels} "
                         f"and out_channels={out_channels}")
    one = gemm_cost(unit, out_pixels, kernel * (in_channels // groups), out_channels // groups, dtype)
    return one.repeated(groups)


def ideal_rate(unit: MatrixUnit, dtype: str) -> int:
    """MACs per cycle of an ideal unit for ``dtype`` (falls back to rows*cols)."""
    return unit.macs_per_cycle.get(dtype, unit.rows * unit.cols)
