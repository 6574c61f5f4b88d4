"""NetAdapt reaches a latency target on the (pluggable) latency model, one layer per iteration."""

from __future__ import annotations

import torch

from aics import zoo
from aics.compress.prune import MacProxyLatency, apply_plan, netadapt
from aics.data import DigitsConfig, load_digits
from aics.train import evaluate

from .helpers import randomize_bn

SHAPE = (1, 1, 16, 16)


def test_netadapt_reaches_half_the_latency() -> None:
    split = load_digits(DigitsConfig(size=16))
    torch.manual_seed(0)
    model = randomize_bn(zoo.get("digits_resnet").build())
    lat = MacProxyLatency()
    start = lat.latency_ms(model, SHAPE)
    res = netadapt(model, SHAPE, lat, 0.5 * start, lambda m: evaluate(m, split.x_test[:100], split.y_test[:100]),
                   reduction=0.2)
    assert res.latency_before_ms == start
    assert res.latency_after_ms <= 0.5 * start
    assert lat.latency_ms(res.model, SHAPE) == res.latency_after_ms
    lats = [s.latency_ms for s in res.history]
    assert lats == sorted(lats, reverse=True) and len(lats) >= 2
    assert all(0.0 <= s.accuracy <= 1.0 and s.removed > 0 for s in res.history)
    replayed = apply_plan(model, res.plan)
    assert {k: v.shape for k, v in replayed.state_dict().items()} == {k: v.shape for k, v in res.model.state_dict().items()}
