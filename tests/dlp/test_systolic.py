"""The closed-form matrix-unit model on cases small enough to check by hand."""

from __future__ import annotations

import pytest

from aics.dlp.arch import MatrixUnit
from aics.dlp.systolic import conv_cost, fold_shape, gemm_cost
from aics.errors import ShapeError


def _array(rows: int, cols: int, dataflow: str) -> MatrixUnit:
    return MatrixUnit("systolic", rows, cols, dataflow, {"int8": rows * cols})  # type: ignore[arg-type]


def test_os_single_fold() -> None:
    """os, 4x4 array, (4x3) @ (3x4): M=4 pixels on rows, N=4 filters on cols, K=3 in time.
    One fold: 3 operands stream in, the last reaches the far corner after R-1 + C-1 = 6 more
    cycles: 3 + 4 + 4 - 2 = 9 cycles (SCALE-Sim would print 8)."""
    cost = gemm_cost(_array(4, 4, "os"), 4, 3, 4)
    assert (cost.cycles, cost.folds, cost.macs) == (9, 1, 48)
    assert cost.mapping_efficiency == 1.0 and cost.compute_util == pytest.approx(48 / (16 * 9))


def test_os_partial_folds_pay_full_fill_and_drain() -> None:
    """os, 4x4, M=6, K=5, N=9: ceil(6/4)=2 row folds x ceil(9/4)=3 col folds = 6 folds of
    5 + 4 + 4 - 2 = 11 cycles = 66. PEs used: 6*9 = 54 of 6*16 = 96 -> mapping 0.5625."""
    cost = gemm_cost(_array(4, 4, "os"), 6, 5, 9)
    assert (cost.cycles, cost.folds) == (66, 6)
    assert cost.mapping_efficiency == 0.5625


def test_ws_folds() -> None:
    """ws, 4x4, M=10, K=6, N=5: K=6 on rows (2 folds), N=5 on cols (2 folds), M=10 in time.
    A fold loads R=4 weight rows, streams 10 inputs, skews R-1 + C-1 = 6: 4 + 10 + 6 = 20,
    i.e. T + 2R + C - 2; 4 folds = 80."""
    unit = _array(4, 4, "ws")
    assert fold_shape(unit, 10, 6, 5).__dict__ == dict(on_rows=6, on_cols=5, t=10, per_fold=20, folds=4)
    assert gemm_cost(unit, 10, 6, 5).cycles == 80


def test_is_folds() -> None:
    """is, 4x4, M=10, K=6, N=5: K=6 on rows (2 folds), M=10 on cols (3 folds), N=5 in time:
    6 folds of 5 + 8 + 4 - 2 = 15 = 90 cycles."""
    assert gemm_cost(_array(4, 4, "is"), 10, 6, 5).cycles == 90


def test_non_square_array() -> None:
    """ws, 8 rows x 2 cols, M=3, K=8, N=2: one fold of 3 + 16 + 2 - 2 = 19 cycles."""
    assert gemm_cost(_array(8, 2, "ws"), 3, 8, 2).cycles == 19


def test_fc1000_matches_scalesim() -> None:
    """fc1000 on 32x32 os: M=1, K=2048, N=1000: 1 x ceil(1000/32)=32 folds of 2048 + 62 = 2110
    -> 67,520 cycles; SCALE-Sim reports 67,519 (the index of the last cycle)."""
    assert gemm_cost(_array(32, 32, "os"), 1, 2048, 1000).cycles - 1 == 67_519


def test_ideal_unit_is_ops_over_rate() -> None:
    """textbook 7.7: 256 fp32 MAC/cycle. 1x256 @ 256x1 = 256 MACs = 1 cycle;
    7.8: 32x256 @ 256x128 = 1,048,576 MACs = 4,096 cycles; fp16 at 512/cycle = 2,048;
    a dtype without a rate falls back to rows*cols = 256."""
    book = MatrixUnit("ideal", 16, 16, "os", {"fp32": 256, "fp16": 512})
    assert gemm_cost(book, 1, 256, 1, "fp32").cycles == 1
    assert gemm_cost(book, 32, 256, 128, "fp32").cycles == 4096
    assert gemm_cost(book, 32, 256, 128, "fp16").cycles == 2048
    assert gemm_cost(book, 3, 3, 3, "int8").cycles == 1  # ceil(27 / 256)
    assert gemm_cost(book, 0, 3, 3).cycles == 0


def test_grouped_and_depthwise_conv() -> None:
    """Depthwise 3x3 on 4 channels, 8x8 output, 4x4 os array: each channel is GEMM (64, 9, 1):
    16 row folds x 1 col fold of 9 + 6 = 15 -> 240 cycles, 4 channels in turn = 960.
    groups=2 of a 4->8 conv: two GEMMs (64, 9*2, 4): 16 folds of 18 + 6 = 24 -> 384 each."""
    unit = _array(4, 4, "os")
    dw = conv_cost(unit, out_pixels=64, kernel=9, in_channels=4, out_channels=4, groups=4)
    assert (dw.cycles, dw.macs, dw.folds) == (960, 64 * 9 * 4, 64)
    assert conv_cost(unit, 64, 9, 4, 8, groups=2).cycles == 768
    assert conv_cost(unit, 64, 9, 4, 8).cycles == gemm_cost(unit, 64, 36, 8).cycles
    with pytest.raises(ShapeError, match="groups=3 must divide"):
        conv_cost(unit, 64, 9, 4, 8, groups=3)
