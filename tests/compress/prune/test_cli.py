"""``aics prune`` end to end through the real entry point, and its one-line errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from aics import checkpoint
from aics.cli.main import main
from aics.compress.distill import fit
from aics.compress.prune.checkpoint_io import load_model
from aics.data import DigitsConfig, Split, load_digits
from aics.errors import DataError
from aics.train import TrainConfig, evaluate
from aics.zoo.digits_resnet import DigitsResNet

UNTRACEABLE = '''
import torch
from torch import nn

class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow: torch.fx cannot follow it
            x = x * 2
        return self.fc(self.conv(x).mean((2, 3)))

def make():
    return Branchy()
'''


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    split = load_digits(DigitsConfig(size=16))
    torch.manual_seed(0)
    model = DigitsResNet()
    fit(model, split, TrainConfig(epochs=1, lr=5e-3, seed=0))
    path = tmp_path_factory.mktemp("ckpt") / "digits.pt"
    checkpoint.save(checkpoint.from_module("digits_resnet", model, (1, 1, 16, 16), data=split.config), path)
    return path


def test_prune_json_report_and_reload(capsys, trained: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "pruned.pt"
    code, out, _ = run(capsys, "prune", str(trained), "--method", "l1", "--target-macs", "0.5", "--global",
                       "--finetune-epochs", "1", "-o", str(out_path), "--format", "json")
    assert code == 0
    r = json.loads(out)
    assert {"params_before", "params_after", "macs_before", "macs_after", "accuracy_before", "accuracy_after"} <= set(r)
    assert r["macs_before"] == 7152896 and r["macs_after"] <= 0.5 * r["macs_before"]
    assert r["params_after"] < r["params_before"] == 168170
    ckpt, model, plan = load_model(out_path)
    assert plan is not None and ckpt.prune_plan == plan.to_json()
    split = load_digits(ckpt.data)
    assert evaluate(model, split.x_test, split.y_test) == r["accuracy_after"]
    # every command that takes a checkpoint rebuilds the pruned model from the plan it carries
    code, out, _ = run(capsys, "summary", str(out_path), "--format", "json")
    assert code == 0 and json.loads(out)["total"]["macs"] == r["macs_after"]


def test_prune_with_distillation_table(capsys, trained: Path, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "prune", str(trained), "--method", "taylor", "--ratio", "0.5", "--distill", "at",
                       "--finetune-epochs", "1", "-o", str(tmp_path / "p.pt"))
    assert code == 0 and "accuracy" in out and "macs" in out


@pytest.mark.parametrize("args,message", [
    (["--target-macs", "0.001"], "MAC target 0.001 cannot be reached"),
    (["--target-latency-ms", "1", "--arch", "edge-int8"], "latency targets need the DLP compiler"),
    (["--ratio", "0.5", "--method", "magic"], "unknown method 'magic'"),
])
def test_bad_requests_exit_2_with_one_line(capsys, trained: Path, tmp_path: Path, args: list[str], message: str) -> None:
    out_path = tmp_path / "x.pt"
    code, _, err = run(capsys, "prune", str(trained), *args, "-o", str(out_path))
    assert code == 2 and message in err and err.count("\n") == 1
    assert not out_path.exists()


def test_untraceable_model_exits_2(capsys, tmp_path: Path) -> None:
    src = tmp_path / "branchy.py"
    src.write_text(UNTRACEABLE)
    spec = f"{src}:make"
    ckpt = tmp_path / "b.pt"
    from aics.models import load_torch

    checkpoint.save(checkpoint.from_module(spec, load_torch(spec, (1, 1, 16, 16)).module, (1, 1, 16, 16),
                                           data=DigitsConfig(size=16)), ckpt)
    code, _, err = run(capsys, "prune", str(ckpt), "--ratio", "0.5", "-o", str(tmp_path / "o.pt"))
    assert code == 2 and "cannot trace" in err and err.count("\n") == 1


def test_empty_dataset_is_a_data_error() -> None:
    empty = Split(*(torch.zeros((0, 1, 16, 16)).numpy(), torch.zeros(0).long().numpy()) * 2, 0.0, 1.0, DigitsConfig())
    with pytest.raises(DataError, match="empty"):
        fit(DigitsResNet(), empty, TrainConfig(epochs=1))
