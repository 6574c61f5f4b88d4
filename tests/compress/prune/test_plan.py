"""Plans are data: JSON round trip, replay on a fresh model gives identical weights, wrong plans fail."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from aics import zoo
from aics.compress.prune import L1, Budget, PruneError, PrunePlan, apply_plan, prune_step

from .helpers import TinyNet, randomize_bn


@pytest.mark.parametrize("name,shape", [("digits_resnet", (1, 1, 16, 16)), ("shufflenet_v2_x0_5", (1, 3, 64, 64))])
def test_replay_gives_identical_weights(name: str, shape: tuple[int, ...], tmp_path) -> None:
    torch.manual_seed(0)
    model = randomize_bn(zoo.get(name).build())
    result = prune_step(model, shape, L1(), Budget(macs=0.5), "global")
    path = tmp_path / "plan.json"
    result.plan.save(path)
    torch.manual_seed(0)  # a fresh model of the same architecture and init
    fresh = randomize_bn(zoo.get(name).build())
    replayed = apply_plan(fresh, PrunePlan.load(path))
    a, b = result.model.state_dict(), replayed.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    x = torch.randn(shape)
    with torch.no_grad():
        assert torch.equal(result.model(x), replayed(x))


def test_plan_json_round_trip() -> None:
    plan = prune_step(randomize_bn(TinyNet()), (1, 3, 8, 8), L1(), Budget(ratio=0.5)).plan
    again = PrunePlan.from_json(plan.to_json())
    assert again == plan
    assert plan.removed == sum(g.removed for g in plan.groups) > 0
    assert json.loads(plan.to_json())["format"] == "aics-prune-plan"


def test_apply_plan_leaves_the_input_model_alone() -> None:
    model = randomize_bn(TinyNet())
    before = copy.deepcopy(model.state_dict())
    plan = prune_step(model, (1, 3, 8, 8), L1(), Budget(ratio=0.5)).plan
    pruned = apply_plan(model, plan)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert pruned.c1.out_channels < model.c1.out_channels


def test_plan_for_another_model_is_rejected() -> None:
    plan = prune_step(randomize_bn(TinyNet()), (1, 3, 8, 8), L1(), Budget(ratio=0.5)).plan
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(288, 5))
    with pytest.raises(PruneError, match="does not have"):
        apply_plan(other, plan)


def test_malformed_plans_are_rejected() -> None:
    with pytest.raises(PruneError, match="not JSON"):
        PrunePlan.from_json("{")
    with pytest.raises(PruneError, match="not a prune plan"):
        PrunePlan.from_json('{"format": "other"}')
    with pytest.raises(PruneError, match="malformed"):
        PrunePlan.from_json('{"format": "aics-prune-plan", "version": 1, "groups": [{}]}')
