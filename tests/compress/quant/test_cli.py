"""``aics train`` and ``aics quantize`` through the real entry point, incl. bad input (exit 2)."""

import json

import pytest

from aics.cli.main import main
from aics.compress.quant.plan import load_plan
from aics.ir.serialize import load


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_train_writes_a_checkpoint_and_reports_accuracy(capsys, tmp_path):
    path = tmp_path / "l.pt"
    code, out, _ = run(capsys, "train", "lenet5", "--data", "digits", "--epochs", "1", "--input-size", "32",
                       "--seed", "1", "-o", path, "--format", "json", "--no-progress")
    assert code == 0 and path.is_file()
    d = json.loads(out)
    assert 0.5 < d["accuracy"] <= 1.0 and d["epochs"] == 1 and d["input_shape"] == [1, 1, 32, 32]
    code, out, _ = run(capsys, "summary", path, "--format", "json")  # checkpoints are MODEL arguments
    assert code == 0 and json.loads(out)["total"]["params"] == 61706


def test_quantize_json_reports_float_and_integer_accuracy(capsys, tmp_path, lenet):
    out_path = tmp_path / "q.json"
    code, out, _ = run(capsys, "quantize", lenet[0], "--scheme", "int8", "--calib", "minmax", "--data", "digits",
                       "-o", out_path, "--format", "json")
    assert code == 0
    d = json.loads(out)
    assert d["float_accuracy"] == lenet[1].accuracy
    assert 0.0 <= d["quant_accuracy"] <= 1.0 and abs(d["float_accuracy"] - d["quant_accuracy"]) <= 0.005
    graph = load(out_path)
    assert graph.inputs[0].shape == (1, 1, 32, 32) and graph.quant["features.0.weight"].per_channel


def test_quantize_table_with_mixed_precision_and_saved_plan(capsys, tmp_path, lenet):
    code, out, _ = run(capsys, "quantize", lenet[0], "--scheme", "fixed:Q2.6:sat", "--layer", "classifier.4=float32",
                       "--save-plan", tmp_path / "p.toml", "-o", tmp_path / "q.json")
    assert code == 0
    assert "float32" in out and "fixed:Q2.6:sat" in out and "wrote" in out
    plan = load_plan(tmp_path / "p.toml")
    assert plan.default == "fixed:Q2.6:sat" and dict(plan.layers) == {"classifier.4": "float32"}
    code, out, _ = run(capsys, "quantize", lenet[0], "--plan", tmp_path / "p.toml", "-o", tmp_path / "r.json",
                       "--format", "json")
    assert code == 0 and json.loads(out)["layers"] == {"classifier.4": "float32"}


@pytest.mark.parametrize("args, message", [
    (["--scheme", "fixed:Q9.9"], "fixed-point format 'fixed:Q9.9' has 18 bits"),
    (["--scheme", "int4"], "bad quantization scheme 'int4'"),
    (["--calib", "kl"], "unknown calibration method 'kl'"),
    (["--layer", "classifier.4"], "--layer expects LAYER=SCHEME"),
    (["--layer", "fc9=int8"], "unknown layer(s) fc9"),
    (["--data", "cifar"], "unknown dataset 'cifar'"),
    (["--input-size", "16"], "trained on 32x32 inputs"),
    (["--calib-size", "0"], "calib_size must be positive"),
])
def test_quantize_bad_input_is_one_line_exit_2(capsys, tmp_path, lenet, args, message):
    out_path = tmp_path / "q.json"
    code, _, err = run(capsys, "quantize", lenet[0], *args, "-o", out_path)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not out_path.exists()


def test_bad_models_and_checkpoints(capsys, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    for model, message in [(bad, "is not a readable checkpoint"), (tmp_path / "none.pt", "does not exist"),
                           ("lenet55", "unknown model 'lenet55'")]:
        code, _, err = run(capsys, "quantize", model, "-o", tmp_path / "q.json")
        assert code == 2 and message in err and err.count("\n") == 1
    code, _, err = run(capsys, "train", "fulladder_mlp", "-o", tmp_path / "t.pt")
    assert code == 2 and "cannot feed a model with input shape 1x9" in err
    code, _, err = run(capsys, "train", "lenet5", "--input-size", "20", "-o", tmp_path / "t.pt")
    assert code == 2 and "input size 20 not supported" in err
    code, _, err = run(capsys, "train", "lenet5", "--input-size", "16", "-o", tmp_path / "t.pt")
    assert code == 2 and "model 'lenet5' cannot run on 1x16x16 inputs" in err and err.count("\n") == 1
    code, _, err = run(capsys, "train", "mnist_mlp", "--input-size", "16", "-o", tmp_path / "t.pt")
    assert code == 2 and "input shape 1x784 at input size 16" in err
    assert not (tmp_path / "t.pt").exists()
