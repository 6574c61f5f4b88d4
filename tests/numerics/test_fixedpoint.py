"""The vectorised TFLite integer primitives against scalar definitions written from gemmlowp's
and TFLite's C++ with Python integers (exact, no numpy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aics.numerics import (
    INT32_MAX,
    INT32_MIN,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    requantize,
    round_half_away,
    rounding_divide,
    rounding_divide_by_pot,
    sat_rounding_doubling_high_mul,
    saturate,
    wrap,
)

int32s = st.integers(INT32_MIN, INT32_MAX)


def c_div(a: int, b: int) -> int:
    """C++ integer division: truncation toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def ref_srdhm(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return c_div(ab + nudge, 1 << 31)


def ref_rdbp(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def ref_wrap32(x: int) -> int:
    return (x + 2**31) % 2**32 - 2**31


def ref_mbqm(x: int, mult: int, shift: int) -> int:
    """TFLite's single-rounding form: x * mult / 2**(31 - shift), rounded half up, wrapped to int32."""
    total = 31 - shift
    return ref_wrap32((x * mult + (1 << (total - 1))) >> total)


@given(int32s, st.integers(2**30, INT32_MAX), st.integers(-31, 0))
def test_mbqm_is_the_correctly_rounded_product(x: int, mult: int, shift: int) -> None:
    """One rounding: the exact rational x*mult/2**(31-shift), nearest, ties toward +infinity."""
    from fractions import Fraction

    exact = Fraction(x * mult, 2 ** (31 - shift))
    assert int(multiply_by_quantized_multiplier(x, mult, shift)) == math.floor(exact + Fraction(1, 2))


@given(int32s, int32s)
def test_srdhm_matches_gemmlowp(a: int, b: int) -> None:
    assert int(sat_rounding_doubling_high_mul(a, b)) == ref_srdhm(a, b)


def test_srdhm_saturates_the_one_overflow() -> None:
    assert int(sat_rounding_doubling_high_mul(INT32_MIN, INT32_MIN)) == INT32_MAX


@given(int32s, st.integers(0, 31))
def test_rounding_divide_by_pot_matches_gemmlowp(x: int, e: int) -> None:
    assert int(rounding_divide_by_pot(x, e)) == ref_rdbp(x, e)


@given(st.integers(-(2**40), 2**40), st.integers(0, 31))
def test_rounding_divide_by_pot_is_round_half_away(x: int, e: int) -> None:
    exact = x / 2**e
    if abs(exact - math.trunc(exact)) != 0.5:
        assert int(rounding_divide_by_pot(x, e)) == round(exact)
    else:
        assert int(rounding_divide_by_pot(x, e)) == math.trunc(exact) + (1 if x > 0 else -1)


@given(int32s, st.integers(2**30, INT32_MAX), st.integers(-31, 30))
def test_mbqm_matches_tflite(x: int, mult: int, shift: int) -> None:
    assert int(multiply_by_quantized_multiplier(x, mult, shift)) == ref_mbqm(x, mult, shift)


@given(st.lists(st.tuples(int32s, st.integers(2**30, INT32_MAX), st.integers(-31, 30)), min_size=1, max_size=20))
def test_mbqm_vectorised_equals_elementwise(triples: list[tuple[int, int, int]]) -> None:
    xs, ms, ss = (np.array(v, dtype=np.int64) for v in zip(*triples))
    assert multiply_by_quantized_multiplier(xs, ms, ss).tolist() == [ref_mbqm(*t) for t in triples]


@given(st.floats(min_value=1e-9, max_value=1e6, allow_nan=False))
def test_quantize_multiplier_represents_the_real(real: float) -> None:
    mult, shift = quantize_multiplier(real)
    assert 2**30 <= mult < 2**31 or (mult, shift) == (0, 0)
    if mult:
        assert abs(mult * 2.0 ** (shift - 31) - real) <= real * 2**-30


def test_quantize_multiplier_edges() -> None:
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(0.5) == (2**30, 0)
    assert quantize_multiplier(1.0) == (2**30, 1)
    assert quantize_multiplier(2.0**-40) == (0, 0)  # below 2**-31: flushes to zero
    assert quantize_multiplier(2.0**40) == (INT32_MAX, 30)  # saturates
    with pytest.raises(ValueError):
        quantize_multiplier(float("nan"))


@given(st.floats(min_value=1e-6, max_value=0.999, allow_nan=False), st.integers(-(2**20), 2**20))
def test_mbqm_approximates_real_multiplication(real: float, x: int) -> None:
    mult, shift = quantize_multiplier(real)
    assert abs(int(multiply_by_quantized_multiplier(x, mult, shift)) - x * real) <= 1.0


@given(int32s, int32s, st.integers(-128, 127))
def test_requantize_is_clamped_mbqm(acc: int, bias: int, zp: int) -> None:
    mult, shift = quantize_multiplier(0.0123)
    got = int(requantize(acc, mult, shift, zp, bias, qmin=-100, qmax=100, dtype="int8"))
    expected = max(-100, min(100, zp + ref_mbqm(ref_wrap32(acc + bias), mult, shift)))
    assert got == expected


@given(st.integers(-(2**62), 2**62), st.integers(1, 2**20))
def test_rounding_divide_is_c_formula(acc: int, count: int) -> None:
    expected = c_div(acc + count // 2, count) if acc > 0 else c_div(acc - count // 2, count)
    assert int(rounding_divide(acc, count)) == expected


@given(st.integers(-(2**62), 2**62))
def test_wrap_and_saturate(x: int) -> None:
    assert int(wrap(x)) == ref_wrap32(x)
    assert int(wrap(x, 8)) == (x + 128) % 256 - 128
    assert int(saturate(x, "int8")) == max(-128, min(127, x))


def test_round_half_away_ties_and_near_ties() -> None:
    values = [0.5, -0.5, 1.5, -2.5, 0.49999999999999994, 2.0**52 + 1]
    assert round_half_away(values).tolist() == [1.0, -1.0, 2.0, -3.0, 0.0, 2.0**52 + 1]
