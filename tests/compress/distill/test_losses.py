"""Distillation losses on hand-made tensors, and the trainer recovering a pruned student."""

from __future__ import annotations

import math

import pytest
import torch

from aics.compress.distill import AttentionTransfer, DistillConfig, FeatureMimic, KDLoss, attention_map, distill
from aics.compress.distill.trainer import feature_layers
from aics.compress.prune import L1, Budget, prune_step
from aics.data import DigitsConfig, load_digits
from aics.errors import DataError
from aics.train import TrainConfig, evaluate
from aics.zoo.digits_resnet import DigitsResNet


def test_kd_loss_by_hand() -> None:
    s, t, y = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]), torch.tensor([0])
    # T = 1: p_t = softmax(t) = (1-q, q) with q = e/(1+e); KL(p_t || p_s) = sum p_t log(p_t / p_s)
    q = math.e / (1 + math.e)
    kl = (1 - q) * math.log((1 - q) / q) + q * math.log(q / (1 - q))
    ce = -math.log(q)  # student puts q on the right class 0
    assert float(KDLoss(1.0, 1.0)(s, t, y)) == pytest.approx(kl, rel=1e-5)
    assert float(KDLoss(1.0, 0.0)(s, t, y)) == pytest.approx(ce, rel=1e-5)
    assert float(KDLoss(2.0, 0.5)(s, s, y)) == pytest.approx(0.5 * float(torch.nn.functional.cross_entropy(s, y)))


def test_attention_transfer_by_hand() -> None:
    a = torch.zeros(1, 2, 2, 2)
    a[0, :, 0, 0] = 1.0  # all energy at one position
    b = torch.ones(1, 3, 2, 2)  # uniform, and a different channel count
    assert torch.allclose(attention_map(a), torch.tensor([[1.0, 0.0, 0.0, 0.0]]))
    assert torch.allclose(attention_map(b), torch.full((1, 4), 0.5))
    # ||(1,0,0,0) - (.5,.5,.5,.5)||^2 / 4 = (0.25 + 3 * 0.25) / 4 = 0.25, times beta / 2
    assert float(AttentionTransfer(beta=2.0)([a], [b])) == pytest.approx(0.25)
    assert float(AttentionTransfer()([b], [b * 3])) == 0.0  # scale-free
    big = torch.ones(1, 3, 4, 4)
    assert float(AttentionTransfer()([big], [b])) == pytest.approx(0.0)  # pooled to the smaller map


def test_feature_mimic_learns_through_its_adapter() -> None:
    mimic = FeatureMimic([2], [3])
    with torch.no_grad():
        mimic.adapters[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]).view(3, 2, 1, 1))
    s = torch.randn(2, 2, 3, 3)
    t = torch.cat([s, s.sum(1, keepdim=True)], 1)
    assert float(mimic([s], [t])) == pytest.approx(0.0, abs=1e-12)
    assert float(mimic([s], [t + 1])) == pytest.approx(1.0)


def test_distillation_recovers_a_pruned_student() -> None:
    split = load_digits(DigitsConfig(size=16))
    torch.manual_seed(0)
    teacher = DigitsResNet()
    from aics.compress.distill import fit

    fit(teacher, split, TrainConfig(epochs=2, lr=5e-3, seed=0))
    shape = (1, 1, 16, 16)
    assert feature_layers(teacher, shape) == ("stem.1", "res_b.1", "down2.1")
    for method in ("kd", "mimic"):
        student = prune_step(teacher, shape, L1(), Budget(macs=0.25)).model
        before = evaluate(student, split.x_test, split.y_test)
        result = distill(student, teacher, split, TrainConfig(epochs=1, lr=5e-3, seed=0), DistillConfig(method), shape)
        assert result.accuracy > before + 0.2
    with pytest.raises(DataError, match="unknown distillation"):
        DistillConfig("magic")
