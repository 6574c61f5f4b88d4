"""Array kernels of the compute instructions against plain loops / int64 numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aics.numerics import kernels


def conv_loops(x: np.ndarray, w: np.ndarray, stride, dilation, pad, groups, a_offset) -> np.ndarray:
    c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.full((c, h + pad[0] + pad[1], wd + pad[2] + pad[3]), a_offset, dtype=np.int64)
    xp[:, pad[0]:pad[0] + h, pad[2]:pad[2] + wd] = x
    ho = (xp.shape[1] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (xp.shape[2] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((o, ho, wo), dtype=np.int64)
    og = o // groups
    for f in range(o):
        g = f // og
        for y in range(ho):
            for xx in range(wo):
                acc = 0
                for ci in range(cg):
                    for i in range(kh):
                        for j in range(kw):
                            v = xp[g * cg + ci, y * stride[0] + i * dilation[0], xx * stride[1] + j * dilation[1]]
                            acc += (int(v) - a_offset) * int(w[f, ci, i, j])
                out[f, y, xx] = acc
    return out


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_int8_conv_equals_loops(data: st.DataObject) -> None:
    groups = data.draw(st.sampled_from([1, 2]))
    c = groups * data.draw(st.integers(1, 3))
    o = groups * data.draw(st.integers(1, 3))
    kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    stride = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)))
    dilation = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)))
    pad = tuple(data.draw(st.integers(0, 2)) for _ in range(4))
    h = data.draw(st.integers(dilation[0] * (kh - 1) + 1, 7))
    wd = data.draw(st.integers(dilation[1] * (kw - 1) + 1, 7))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(-128, 128, (c, h, wd)).astype(np.int8)
    w = rng.integers(-128, 128, (o, c // groups, kh, kw)).astype(np.int8)
    a_offset = data.draw(st.integers(-128, 127))
    got = kernels.conv2d(x, w, "int8", stride, dilation, pad, groups, a_offset)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, conv_loops(x, w, stride, dilation, pad, groups, a_offset))


def test_int_matmul_is_exact_and_wraps_at_32_bits() -> None:
    k = 4096
    a = np.full((2, k), -128, dtype=np.int8)
    b = np.full((k, 3), -128, dtype=np.int8)
    got = kernels.matmul(a, b, "int8", a_offset=127)  # (-255) * (-128) * 4096 fits in int32
    assert got.tolist() == [[255 * 128 * k] * 3] * 2
    a16 = np.full((1, 1 << 16), 32767, dtype=np.int16)
    b16 = np.full((1 << 16, 1), 32767, dtype=np.int16)
    exact = 32767 * 32767 * (1 << 16)
    assert kernels.matmul(a16, b16, "int16").item() == (exact + 2**31) % 2**32 - 2**31


def test_float_matmul_accumulates_in_float32() -> None:
    a = np.array([[1.0, 2.0]], dtype=np.float16)
    b = np.array([[3.0], [4.0]], dtype=np.float16)
    got = kernels.matmul(a, b, "fp16")
    assert got.dtype == np.float32 and got.item() == 11.0


def pool_loops(x, mode, k, s, pad, count_pad, pad_value):
    c, h, w = x.shape
    ho = (h + pad[0] + pad[1] - k[0]) // s[0] + 1
    wo = (w + pad[2] + pad[3] - k[1]) // s[1] + 1
    out = np.zeros((c, ho, wo), dtype=np.int64)
    for ch in range(c):
        for y in range(ho):
            for xx in range(wo):
                vals, padded = [], 0
                for i in range(k[0]):
                    for j in range(k[1]):
                        yy, xj = y * s[0] + i - pad[0], xx * s[1] + j - pad[2]
                        if 0 <= yy < h and 0 <= xj < w:
                            vals.append(int(x[ch, yy, xj]))
                        else:
                            padded += 1
                if mode == "max":
                    out[ch, y, xx] = max(vals)
                else:
                    total = sum(vals) + (pad_value * padded if count_pad else 0)
                    n = len(vals) + (padded if count_pad else 0)
                    q = (abs(total) + n // 2) // n
                    out[ch, y, xx] = q if total >= 0 else -q
    return out


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("count_pad", [False, True])
def test_int8_pool_equals_loops(mode: str, count_pad: bool) -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (3, 7, 6)).astype(np.int8)
    pad = (1, 0, 1, 1)
    got = kernels.pool2d(x, mode, (3, 2), (2, 1), pad, "int8", count_pad, pad_value=-5)
    np.testing.assert_array_equal(got, pool_loops(x, mode, (3, 2), (2, 1), pad, count_pad, -5))


def test_avg_pool_rounds_half_away_from_zero() -> None:
    x = np.array([[[1, 2], [-1, -2]]], dtype=np.int8)  # rows average 1.5 and -1.5
    assert kernels.pool2d(x, "avg", (1, 2), (1, 1), (0, 0, 0, 0), "int8").ravel().tolist() == [2, -2]


def test_eltwise_saturates_integers() -> None:
    a = np.array([100, -100, 7], dtype=np.int8)
    b = np.array([100, -100, 3], dtype=np.int8)
    assert kernels.eltwise("add", a, b, "int8").tolist() == [127, -128, 10]
    assert kernels.eltwise("mul", a, b, "int8").tolist() == [127, 127, 21]
    assert kernels.eltwise("max", a, b, "int8").tolist() == [100, -100, 7]


def test_cast_rounding_modes_and_specials() -> None:
    x = np.array([0.5, 1.5, -0.5, -2.5, np.nan, np.inf, -np.inf], dtype=np.float32)
    even = kernels.cast(x, "fp32", "int8", scale=1.0, zp=0, rounding="half_even")
    away = kernels.cast(x, "fp32", "int8", scale=1.0, zp=0, rounding="half_away")
    assert even.tolist() == [0, 2, 0, -2, 0, 127, -128]
    assert away.tolist() == [1, 2, -1, -3, 0, 127, -128]
    ints = np.array([-128, 0, 127], dtype=np.int8)
    assert kernels.cast(ints, "int8", "int32", zp=-3).tolist() == [-125, 3, 130]
    assert kernels.cast(ints, "int8", "fp32", scale=0.5, zp=1).tolist() == [-64.5, -0.5, 63.0]


def test_lut_reduce_unary() -> None:
    table = (np.arange(256) - 128).astype(np.int8)[::-1].copy()  # f(x) = -x - 1
    x = np.array([-128, 0, 127], dtype=np.int8)
    assert kernels.lut(x, table, "int8").tolist() == [127, -1, -128]
    block = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int8)
    assert kernels.reduce(block, "sum", 0, "int8").tolist() == [5, 7, 9]
    assert kernels.reduce(block, "max", 1, "int8").tolist() == [3, 6]
    v = np.array([4.0, 0.25], dtype=np.float32)
    assert kernels.unary(v, "rsqrt", "fp32").tolist() == [0.5, 2.0]
    assert kernels.unary(v, "recip", "fp32").tolist() == [0.25, 4.0]
