"""Accuracy of the quantization workflow on a trained LeNet-5, measured by the integer reference."""

import numpy as np
import pytest

from aics.compress.quant.plan import QuantPlan, load_plan, save_plan
from aics.compress.quant.workflow import graph_accuracy, quantize_subject
from aics.ir.serialize import load, save
from aics.reference import Executor


def test_lenet5_reaches_97_percent(lenet):
    _, result, subject = lenet
    assert result.accuracy >= 0.97
    assert result.seconds < 45
    assert subject.input_shape == (1, 1, 32, 32) and subject.split.x_test.shape == (360, 1, 32, 32)


@pytest.mark.parametrize("calib", ["minmax", "percentile", "mse"])
def test_int8_ptq_within_half_a_point(lenet, calib):
    r = quantize_subject(lenet[2], QuantPlan(default="int8", calib=calib))
    assert r.float_accuracy >= 0.97
    assert abs(r.float_accuracy - r.quant_accuracy) <= 0.005


def test_int16_ptq_matches_float(lenet):
    r = quantize_subject(lenet[2], QuantPlan(default="int16"))
    assert abs(r.float_accuracy - r.quant_accuracy) <= 0.003


def test_q26_saturate_is_not_worse_than_wrap(lenet):
    wrap = quantize_subject(lenet[2], QuantPlan(default="fixed:Q2.6:wrap"))
    sat = quantize_subject(lenet[2], QuantPlan(default="fixed:Q2.6:sat"))
    # Activations reach +-20 here, far beyond Q2.6's [-2, 2): wrapping scrambles them, saturating clips.
    assert sat.quant_accuracy >= wrap.quant_accuracy
    assert sat.quant_accuracy > 0.9 and wrap.quant_accuracy < 0.3
    wide = quantize_subject(lenet[2], QuantPlan(default="fixed:Q6.10:sat"))
    assert wide.quant_accuracy >= wide.float_accuracy - 0.005


def test_saved_graph_runs_like_the_evaluated_one(lenet, tmp_path):
    subject = lenet[2]
    r = quantize_subject(subject, QuantPlan())
    save(r.graph, tmp_path / "q.json")
    back = load(tmp_path / "q.json")
    assert back.inputs[0].shape == (1, 1, 32, 32)
    x = subject.split.x_test[:40]
    ours = [Executor(r.graph, "int").run(xi[None])[0] for xi in x]
    loaded = [Executor(back, "int").run(xi[None])[0] for xi in x]
    np.testing.assert_array_equal(np.concatenate(ours), np.concatenate(loaded))
    assert np.concatenate(ours).dtype == np.int8
    assert graph_accuracy(back, x, subject.split.y_test[:40]) == pytest.approx(
        np.mean(np.concatenate(ours).argmax(-1) == subject.split.y_test[:40]))


def test_mixed_precision_plan_replays(lenet, tmp_path):
    plan = QuantPlan(default="int8", layers=(("features.0", "int16"), ("classifier.4", "float32"),
                                            ("classifier.2", "fixed:Q6.10:sat")))
    save_plan(plan, tmp_path / "plan.toml")
    replay = load_plan(tmp_path / "plan.toml")
    assert replay == plan
    a, b = quantize_subject(lenet[2], plan), quantize_subject(lenet[2], replay)
    assert a.graph.quant == b.graph.quant and a.quant_accuracy == b.quant_accuracy
    q = a.graph.quant
    assert q["features.0"].dtype == "int16" and q["features.3"].dtype == "int8"
    assert q["classifier.2"].dtype == "fixed" and q["classifier.4.weight"].dtype == "float32"
    assert q["classifier.4"].dtype == "float32"  # the graph output of a float layer stays float
    modes = Executor(a.graph, "int").modes
    assert modes["features.0"] == modes["features.3"] == "int" and modes["classifier.3"] == "fixed"
    # where the representation changes (int8 -> fixed, fixed -> float) the node runs in float on the host
    assert modes["classifier.2"] == modes["classifier.4"] == "float"
    assert abs(a.float_accuracy - a.quant_accuracy) <= 0.005
