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
    (["--target-latency-ms", "1"], "--target-latency-ms needs --arch"),
    (["--target-latency-ms", "0.0001", "--arch", "edge-int8"], "latency target 0.0001 ms cannot be reached"),
    (["--method", "netadapt", "--target-latency-ms", "1", "--arch", "edge-int8"], "is not below the model's"),
    (["--ratio", "0.5", "--arch", "no-such-arch"], "no-such-arch"),
    (["--ratio", "0.5", "--method", "magic"], "unknown method 'magic'"),
])
def test_bad_requests_exit_2_with_one_line(capsys, trained: Path, tmp_path: Path, args: list[str], message: str) -> None:
    out_path = tmp_path / "x.pt"
    code, _, err = run(capsys, "prune", str(trained), *args, "--cache", str(tmp_path / "lut"), "-o", str(out_path))
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


def _simulated_ms(path: Path) -> float:
    from aics.compress.prune.dlp_latency import SimulatedLatency

    _, model, _ = load_model(path)
    return SimulatedLatency("edge-int8").latency_ms(model, (1, 1, 16, 16))


def test_netadapt_on_the_simulated_dlp_json(capsys, trained: Path, tmp_path: Path) -> None:
    lut = tmp_path / "lut"
    start = _simulated_ms(trained)  # 0.021292 ms (21292 cycles at 1 GHz) on 2026-11-23
    target = 0.8 * start
    code, out, _ = run(capsys, "prune", str(trained), "--method", "netadapt", "--target-latency-ms", str(target),
                       "--arch", "edge-int8", "--cache", str(lut), "--short-finetune-epochs", "0",
                       "--finetune-epochs", "0", "-o", str(tmp_path / "na.pt"), "--format", "json")
    assert code == 0
    r = json.loads(out)
    assert r["arch"] == "edge-int8" and r["latency_model"].startswith("dlp-simulator")
    assert r["latency_before_ms"] == pytest.approx(start)
    assert r["latency_after_ms"] <= target < r["latency_before_ms"]
    assert r["macs_after"] < r["macs_before"] and r["netadapt_history"]
    assert r["latency_table"]["path"].startswith(str(lut)) and r["latency_table"]["entries"] > 0
    assert _simulated_ms(tmp_path / "na.pt") == pytest.approx(r["latency_after_ms"])


def test_mac_budget_reports_simulated_latency_with_arch_and_proxy_without(capsys, trained: Path, tmp_path: Path) -> None:
    base = ["prune", str(trained), "--target-macs", "0.5", "--finetune-epochs", "0", "--format", "json"]
    code, out, _ = run(capsys, *base, "--arch", "edge-int8", "-o", str(tmp_path / "a.pt"))
    r = json.loads(out)
    assert code == 0 and r["latency_after_ms"] < r["latency_before_ms"] and "proxy_latency_before_ms" not in r
    code, out, _ = run(capsys, *base, "-o", str(tmp_path / "b.pt"))
    r = json.loads(out)
    assert code == 0 and "latency_before_ms" not in r and r["latency_model"].startswith("mac-proxy")
    assert r["proxy_latency_after_ms"] < r["proxy_latency_before_ms"]


def test_latency_budget_with_l1(capsys, trained: Path, tmp_path: Path) -> None:
    target = 0.75 * _simulated_ms(trained)
    code, out, _ = run(capsys, "prune", str(trained), "--method", "l1", "--target-latency-ms", str(target), "--arch",
                       "edge-int8", "--finetune-epochs", "0", "-o", str(tmp_path / "l.pt"), "--format", "json")
    r = json.loads(out)
    assert code == 0 and r["latency_after_ms"] <= target * 1.02  # the budget search runs on the table estimate
