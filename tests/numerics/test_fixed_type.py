"""``FixedType`` against the ap_fixed rules written out with exact rationals."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aics.errors import QuantizationError
from aics.numerics import FixedType

types = st.builds(FixedType, width=st.integers(1, 32), frac=st.integers(-4, 36), signed=st.booleans(),
                  overflow=st.sampled_from(["wrap", "sat"]), rounding=st.sampled_from(["trn", "rnd"]))


def ref_quantize(t: FixedType, x: float) -> int:
    scaled = Fraction(x) * Fraction(2) ** t.frac
    code = math.floor(scaled) if t.rounding == "trn" else math.floor(scaled + Fraction(1, 2))
    return ref_overflow(t, code)


def ref_overflow(t: FixedType, code: int) -> int:
    if t.overflow == "sat":
        return max(t.min_code, min(t.max_code, code))
    return (code - t.min_code) % (1 << t.width) + t.min_code


@given(types, st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_quantize_matches_ap_fixed_rules(t: FixedType, x: float) -> None:
    assert int(t.quantize(x)) == ref_quantize(t, x)


@given(types, st.integers(-(2**33), 2**33), st.integers(-4, 40))
def test_cast_between_formats_matches_rules(t: FixedType, code: int, frac: int) -> None:
    real = Fraction(code) / Fraction(2) ** frac
    scaled = real * Fraction(2) ** t.frac
    rounded = math.floor(scaled) if t.rounding == "trn" else math.floor(scaled + Fraction(1, 2))
    assert int(t.cast(code, frac)) == ref_overflow(t, rounded)


def test_q2_6_examples() -> None:
    q = FixedType(8, 6, overflow="sat", rounding="rnd")  # Q2.6 in 8 bits, as in the seeds
    assert q.quantize([1.0, -2.5, 3.0, 0.0078125, -0.0078125]).tolist() == [64, -128, 127, 1, 0]
    assert q.to_real([64, -128, 127]).tolist() == [1.0, -2.0, 1.984375]
    wrapping = FixedType(8, 6)
    assert wrapping.quantize([2.0]).tolist() == [-128]  # 128 wraps to -128
    assert q.ap_type() == "ap_fixed<8,2,AP_RND,AP_SAT>"
    assert FixedType(16, 10, signed=False).ap_type() == "ap_ufixed<16,6>"


def test_bad_formats_and_values_are_refused() -> None:
    with pytest.raises(QuantizationError):
        FixedType(0, 0)
    with pytest.raises(QuantizationError):
        FixedType(8, 4, overflow="clip")  # type: ignore[arg-type]
    with pytest.raises(QuantizationError):
        FixedType(8, 4).quantize(np.array([1.0, np.nan]))
