"""Schemes, plans (data, JSON/TOML round trip) and observers."""

import numpy as np
import pytest

from aics.compress.quant.observers import MinMaxObserver, MseObserver, PercentileObserver, make_observer
from aics.compress.quant.plan import QuantPlan, load_plan, plan_from_dict, save_plan
from aics.compress.quant.scheme import parse_scheme
from aics.errors import QuantizationError


@pytest.mark.parametrize("text, canonical, width, frac", [
    ("fixed:Q2.6", "fixed:Q2.6:wrap:trn", 8, 6),
    ("fixed:Q2.6:sat", "fixed:Q2.6:sat:trn", 8, 6),
    ("fixed:q4.12:rnd:sat", "fixed:Q4.12:sat:rnd", 16, 12),
    ("fixed:Q0.8", "fixed:Q0.8:wrap:trn", 8, 8),
])
def test_fixed_formats(text, canonical, width, frac):
    s = parse_scheme(text)
    assert str(s) == canonical and s.fixed.width == width and s.fixed.frac == frac and s.dtype == "fixed"
    assert parse_scheme(str(s)) == s


def test_integer_and_float_schemes():
    assert parse_scheme("int8").act_range == (-128, 127) and parse_scheme("int8").weight_max == 127
    w4 = parse_scheme("int8:w4")
    assert w4.weight_max == 7 and str(w4) == "int8:w4" and w4.weight_dtype == "int8"
    i16 = parse_scheme("int16")
    assert i16.dtype == "int16" and i16.weight_dtype == "int8"
    assert i16.act_params(-1.0, 3.0) == (float(np.float32(3.0 / 32767)), 0)  # symmetric, float32 scale
    assert parse_scheme("int8").act_params(-1.0, 3.0) == (float(np.float32(4.0 / 255)), -64)
    assert parse_scheme("int8").act_params(0.5, 2.0)[1] == -128  # range widened to include 0
    assert parse_scheme("float32").kind == "float"


@pytest.mark.parametrize("text, message", [
    ("fixed:Q9.9", "'fixed:Q9.9' has 18 bits"),
    ("fixed:Q2", "bad fixed-point format 'fixed:Q2'"),
    ("fixed:Q2.6:wrap:sat", "one of wrap/sat"),
    ("fixed:Q2.6:floor", "one of wrap/sat"),
    ("int4", "bad quantization scheme 'int4'"),
    ("int8:w9", "weight bits must be w2..w8"),
])
def test_bad_schemes_name_the_text(text, message):
    with pytest.raises(QuantizationError, match=message) as err:
        parse_scheme(text)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_plan_round_trip(tmp_path, suffix):
    plan = QuantPlan("int8", (("fc", "float32"), ("conv1", "fixed:Q2.6:sat")), "percentile", 99.9, 256, 3)
    save_plan(plan, tmp_path / f"p{suffix}")
    assert load_plan(tmp_path / f"p{suffix}") == plan
    assert plan.scheme_for("conv1").fixed.overflow == "sat" and plan.scheme_for("other") == parse_scheme("int8")
    assert plan.with_layers({"fc": "int16"}).scheme_for("fc").bits == 16


def test_bad_plans(tmp_path):
    with pytest.raises(QuantizationError, match="layer 'fc': bad quantization scheme 'int3'"):
        QuantPlan(layers=(("fc", "int3"),))
    with pytest.raises(QuantizationError, match="unknown calibration method 'kl'"):
        QuantPlan(calib="kl")
    with pytest.raises(QuantizationError, match=r"unknown plan keys \['bits'\]"):
        plan_from_dict({"bits": 4})
    (tmp_path / "bad.toml").write_text("default = [")
    with pytest.raises(QuantizationError, match="cannot read quantization plan"):
        load_plan(tmp_path / "bad.toml")


def test_observers():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(100_000), [40.0]]).astype(np.float32)
    assert MinMaxObserver()(x, 256) == (float(x.min()), 40.0)
    lo, hi = PercentileObserver(99.9)(x, 256)
    assert 2.5 < hi < 4.0 and -4.0 < lo < -2.5
    mlo, mhi = MseObserver()(x, 256)
    assert mhi < 40.0  # clipping the single outlier lowers the squared error
    uniform = rng.uniform(-1, 1, 10_000).astype(np.float32)
    assert MseObserver()(uniform, 256) == pytest.approx(MinMaxObserver()(uniform, 256), rel=0.02)
    with pytest.raises(QuantizationError, match="unknown calibration method"):
        make_observer("entropy")
