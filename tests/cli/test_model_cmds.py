"""``aics zoo`` / ``aics summary`` / ``aics demo`` through the real entry point, incl. bad input."""

import json

import pytest
import torch

from aics.cli.main import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_zoo_lists_every_model(capsys):
    from aics.zoo import MODELS

    code, out, _ = run(capsys, "zoo", "--format", "json")
    assert code == 0
    assert {m["name"] for m in json.loads(out)} == set(MODELS)


def test_summary_json_schema(capsys):
    code, out, _ = run(capsys, "summary", "lenet5", "--format", "json")
    assert code == 0
    d = json.loads(out)
    assert d["model"] == "lenet5" and d["input_shape"] == [1, 1, 32, 32]
    assert {k: d["total"][k] for k in ("params", "macs", "neurons")} == {"params": 61706, "macs": 416520,
                                                                        "neurons": 6518}
    assert d["total"]["mults"] == 416520 and d["total"]["adds"] == 416520
    first = d["layers"][0]
    assert {"name", "op", "output_shape", "params", "macs", "mults", "adds", "neurons"} <= set(first)
    assert first["output_shape"] == [1, 6, 28, 28]


def test_summary_input_shape_override(capsys):
    code, out, _ = run(capsys, "summary", "resnet18", "-i", "1x3x64x64", "-f", "json")
    assert code == 0
    assert json.loads(out)["total"]["macs"] == pytest.approx(1_814_073_344 * (64 / 224) ** 2, rel=0.02)


@pytest.mark.parametrize("fmt,needle", [("csv", "TOTAL,"), ("md", "| **total** |"), ("table", "total")])
def test_summary_formats(capsys, fmt, needle):
    code, out, _ = run(capsys, "summary", "lenet5", "-f", fmt)
    assert code == 0 and needle in out


def test_summary_factory_and_onnx(capsys, tmp_path):
    src = tmp_path / "mine.py"
    src.write_text("import torch.nn as nn\n"
                   "def make():\n    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 4))\n"
                   "def not_a_model():\n    return 42\n")
    code, out, _ = run(capsys, "summary", f"{src}:make", "-i", "1x3x8x8", "-f", "json")
    assert code == 0 and json.loads(out)["total"]["params"] == 8 * 27 + 8 + 288 * 4 + 4
    from aics.models import load_torch

    torch.onnx.export(load_torch(f"{src}:make", (1, 3, 8, 8)).module, (torch.randn(1, 3, 8, 8),),
                      str(tmp_path / "m.onnx"), dynamo=False)
    code, out2, _ = run(capsys, "summary", str(tmp_path / "m.onnx"), "-f", "json")
    assert code == 0 and json.loads(out2)["total"]["macs"] == json.loads(out)["total"]["macs"]


@pytest.mark.parametrize("argv,message", [
    (["summary", "resnet5"], "unknown model 'resnet5' (did you mean resnet50"),
    (["summary", "/nonexistent/m.py:make"], "model file '/nonexistent/m.py' does not exist"),
    (["summary", "lenet5", "-i", "1x3x32x32"], "input has 3 channels but the weight expects 1"),
    (["summary", "lenet5", "-i", "1xAx3"], "bad input shape '1xAx3'"),
])
def test_bad_input_one_line_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_bad_factory_and_corrupt_onnx(capsys, tmp_path):
    src = tmp_path / "mine.py"
    src.write_text("def not_a_model():\n    return 42\n")
    code, _, err = run(capsys, "summary", f"{src}:not_a_model", "-i", "1x3")
    assert code == 2 and "returned int, not a torch.nn.Module" in err
    code, _, err = run(capsys, "summary", f"{src}:missing", "-i", "1x3")
    assert code == 2 and "has no function 'missing'" in err
    (tmp_path / "bad.onnx").write_bytes(b"\x00not onnx")
    code, _, err = run(capsys, "summary", str(tmp_path / "bad.onnx"))
    assert code == 2 and "bad.onnx" in err and len(err.strip().splitlines()) == 1


def test_unsupported_op_exit_2(capsys, tmp_path):
    src = tmp_path / "odd.py"
    src.write_text("import torch, torch.nn as nn\n"
                   "class M(nn.Module):\n    def forward(self, x):\n        return torch.cumsum(x, 1)\n"
                   "def make():\n    return M()\n")
    code, _, err = run(capsys, "summary", f"{src}:make", "-i", "1x4")
    assert code == 2 and "unsupported op 'torch.cumsum' at node 'cumsum' (odd.py:4)" in err


def test_demo_runs(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "--out", str(tmp_path), "--epochs", "2")
    assert code == 0 and "resnet50" in out and "4,089,184,256" in out
    assert "int8 (integer reference)" in out and (tmp_path / "lenet5.q.json").exists()
    assert "(360/360 outputs bit-exact)" in out and "C simulation (bit-exact)" in out
    assert "NetAdapt on edge-int8" in out and (tmp_path / "lenet5.pruned.pt").exists()
    assert (tmp_path / "lenet5.dlp").exists() and (tmp_path / "hls" / "aics_top.c").exists()
    trace = json.loads((tmp_path / "lenet5.trace.json").read_text())
    assert any(e.get("ph") == "X" for e in trace["traceEvents"])
