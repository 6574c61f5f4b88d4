"""QAT: fake quant with a straight-through estimator, exported to the same integer IR."""

import numpy as np
import torch

from aics.compress.quant.fake_quant import ActFakeQuant, WeightFakeQuant, fake_quant_affine, fake_quant_fixed
from aics.compress.quant.plan import QuantPlan
from aics.compress.quant.scheme import parse_scheme
from aics.compress.quant.workflow import quantize_subject


def test_qat_recovers_at_least_half_of_the_ptq_gap(lenet):
    # 3-bit weights ([-3, 3] in int8 storage): PTQ loses more than a point on this LeNet-5.
    plan = QuantPlan(default="int8:w3")
    ptq = quantize_subject(lenet[2], plan)
    gap = ptq.float_accuracy - ptq.quant_accuracy
    assert gap > 0.01
    qat = quantize_subject(lenet[2], plan, qat_epochs=2)
    assert qat.quant_accuracy - ptq.quant_accuracy >= gap / 2
    # the integer model scores what the fake-quantized module scored in torch, within 2 images
    assert abs(qat.quant_accuracy - qat.qat.accuracy) <= 2 / 360
    w = qat.graph.quant["features.0.weight"]
    codes = qat.graph.params["features.0.weight"] / np.asarray(w.scale).reshape(-1, 1, 1, 1)
    assert np.abs(codes).max() <= 3 + 1e-4 and np.allclose(codes, np.round(codes), atol=1e-4)


def test_straight_through_gradient_is_zero_only_outside_the_range():
    x = torch.tensor([-2.0, -0.3, 0.0, 0.26, 0.9, 3.0], requires_grad=True)
    y = fake_quant_affine(x, torch.tensor(0.1), torch.tensor(0.0), -10, 10)
    assert torch.allclose(y, torch.tensor([-1.0, -0.3, 0.0, 0.3, 0.9, 1.0]))
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]


def test_fixed_fake_quant_matches_fixed_type():
    scheme = parse_scheme("fixed:Q2.6:wrap")
    x = torch.linspace(-3, 3, 97)
    ours = fake_quant_fixed(x, scheme).numpy()
    ref = scheme.fixed.to_real(scheme.fixed.quantize(x.numpy().astype(np.float64)))
    np.testing.assert_allclose(ours, ref, atol=1e-7)


def test_weight_fake_quant_is_per_channel_symmetric():
    w = torch.tensor([[0.52, -1.0, 0.26], [0.01, 0.021, -0.04]])
    q = WeightFakeQuant(parse_scheme("int8:w4"), axis=0)(w)
    np.testing.assert_allclose(q[0].numpy(), np.array([4, -7, 2]) / 7.0, atol=1e-6)
    np.testing.assert_allclose(q[1].numpy(), np.array([2, 4, -7]) * 0.04 / 7, atol=1e-6)


def test_activation_observer_tracks_an_ema_in_training_only():
    fq = ActFakeQuant("t", parse_scheme("int8"), 0.0, 1.0, momentum=0.5)
    fq.train()
    fq(torch.tensor([-1.0, 3.0]))
    assert fq.range == (-0.5, 2.0)
    fq.eval()
    fq(torch.tensor([-10.0, 10.0]))
    assert fq.range == (-0.5, 2.0)
