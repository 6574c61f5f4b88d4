"""Training loop (deterministic, metrics) and self-describing checkpoints, on tiny models."""

import numpy as np
import pytest
import torch
from torch import nn

from aics import checkpoint
from aics.data import DigitsConfig, load_digits
from aics.errors import AicsError, ModelError
from aics.models import load_torch
from aics.train import TrainConfig, deterministic, evaluate, train, train_model


@pytest.fixture(scope="module")
def digits8():
    return load_digits(DigitsConfig(size=8, layout="flat"))


def _mlp(seed: int = 0) -> nn.Module:
    with deterministic(seed):
        return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def test_training_is_deterministic_and_learns(digits8):
    config = TrainConfig(epochs=3, seed=5, lr=1e-2)
    a, b = _mlp(), _mlp()
    ra, rb = train(a, digits8, config, progress=False), train(b, digits8, config, progress=False)
    assert ra.losses == rb.losses and ra.accuracy == rb.accuracy
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert ra.losses[0] > ra.losses[-1] and ra.accuracy > 0.9
    assert ra.accuracy == evaluate(a, digits8.x_test, digits8.y_test)


def test_training_leaves_global_torch_state_alone(digits8):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    train(_mlp(), digits8, TrainConfig(epochs=1, threads=1), progress=False)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads and torch.are_deterministic_algorithms_enabled() == det


def test_sgd_and_bad_settings(digits8):
    r = train(_mlp(), digits8, TrainConfig(epochs=2, optimizer="sgd", lr=0.05), progress=False)
    assert r.accuracy > 0.85
    with pytest.raises(AicsError, match="unknown optimizer 'rmsprop'"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(AicsError, match="bad training settings"):
        TrainConfig(lr=0)


def test_checkpoint_round_trip_rebuilds_the_model(tmp_path):
    ckpt, result = train_model("mnist_mlp", config=TrainConfig(epochs=1), progress=False)
    path = tmp_path / "mlp.pt"
    checkpoint.save(ckpt, path)
    back = checkpoint.load(path)
    assert back.model == "mnist_mlp" and back.input_shape == (1, 784)
    assert back.data == DigitsConfig(size=28, layout="flat")
    assert back.metrics["accuracy"] == result.accuracy
    split = load_digits(back.data)
    assert evaluate(back.build(), split.x_test, split.y_test) == result.accuracy
    raw = torch.load(path, weights_only=True)  # plain data only
    assert raw["format"] == "aics-checkpoint" and raw["kwargs"] == {}
    tm = load_torch(str(path))  # MODEL arguments accept checkpoints
    assert tm.name == "mnist_mlp" and tm.input_shape == (1, 784)


def test_checkpoint_keeps_constructor_arguments(tmp_path):
    module = load_torch("lenet5").module
    ckpt = checkpoint.from_module("lenet5", module, (1, 3, 32, 32), {"in_channels": 3, "num_classes": 7})
    with pytest.raises(ModelError, match="does not match model 'lenet5'"):
        ckpt.build()  # lenet5 built with 3 channels / 7 classes does not take 1-channel weights
    module3 = load_torch("lenet5").module.__class__(in_channels=3, num_classes=7)
    good = checkpoint.from_module("lenet5", module3, (1, 3, 32, 32), {"in_channels": 3, "num_classes": 7})
    checkpoint.save(good, tmp_path / "l.pt")
    rebuilt = checkpoint.load(tmp_path / "l.pt").build()
    assert rebuilt.classifier[-1].out_features == 7


def test_mismatched_checkpoint_is_one_line_error(tmp_path):
    module = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    ckpt = checkpoint.from_module("mnist_mlp", module, (1, 784))
    with pytest.raises(ModelError) as err:
        ckpt.build()
    msg = str(err.value)
    assert "\n" not in msg and "missing keys layers.0.bias, layers.0.weight" in msg \
        and "unexpected keys 0.bias, 0.weight" in msg
    wrong = checkpoint.from_module("mnist_mlp", load_torch("mnist_mlp").module, (1, 784), {"sizes": (784, 10)})
    with pytest.raises(ModelError, match="unexpected keys"):
        wrong.build()


@pytest.mark.parametrize("content, message", [
    (b"not a checkpoint", "is not a readable checkpoint"),
    (None, "is not an aics checkpoint"),
])
def test_bad_checkpoint_files(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    if content is None:
        torch.save({"weights": torch.zeros(2)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(ModelError, match=message):
        checkpoint.load(path)
    with pytest.raises(ModelError, match="does not exist"):
        checkpoint.load(tmp_path / "missing.pt")


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "aics-checkpoint", "obj": np.dtype("float32").type}, path)
    with pytest.raises(ModelError, match="not a readable checkpoint"):
        checkpoint.load(path)
