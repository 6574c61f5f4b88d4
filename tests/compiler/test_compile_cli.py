"""``aics compile`` / ``run`` / ``simulate`` end to end (LeNet-5, edge-int8)."""

from __future__ import annotations

import json

import numpy as np

from aics.cli.main import main
from aics.compiler.workflow import quantized_model
from aics.reference import run


def test_compile_then_run_matches_reference(tmp_path, capsys) -> None:
    prog = tmp_path / "lenet.dlp"
    assert main(["compile", "lenet5", "--arch", "edge-int8", "-o", str(prog), "-f", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["layers"] == 7 and prog.exists()
    x = np.random.default_rng(1).standard_normal((1, 1, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "y.npy"
    trace = tmp_path / "trace.json"
    assert main(["run", str(prog), "--input", str(tmp_path / "x.npy"), "-o", str(out), "-f", "json",
                 "--trace", str(trace)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cycles"] > 0 and trace.exists()
    expected = run(quantized_model("lenet5"), x, "int")[0]  # same seeded calibration
    assert np.array_equal(np.load(out), expected)


def test_simulate_json_has_the_documented_fields(capsys) -> None:
    assert main(["simulate", "lenet5", "--arch", "edge-int8", "-f", "json"]) == 0
    r = json.loads(capsys.readouterr().out)
    for key in ("cycles", "seconds", "macs", "utilization", "dram_bytes", "roofline_bound_cycles",
                "bit_exact", "max_abs_diff", "layers"):
        assert key in r
    assert r["bit_exact"] is True and r["max_abs_diff"] == 0
    assert r["cycles"] >= r["roofline_bound_cycles"] > 0
    assert all(layer["bound"] in ("compute", "memory") for layer in r["layers"])


def test_program_passes_can_be_switched_off(capsys) -> None:
    """Each program-level pass can be turned off to see what it buys; all variants stay exact."""
    cycles = {}
    for flags in ([], ["--no-reorder"], ["--no-reorder", "--no-keep-on-chip"]):
        assert main(["simulate", "lenet5", "--arch", "edge-int8", "-f", "json", *flags]) == 0
        r = json.loads(capsys.readouterr().out)
        assert r["bit_exact"] is True
        cycles[len(flags)] = (r["cycles"], r["dram_bytes"])
    assert cycles[0][0] <= cycles[1][0] < cycles[2][0]  # each pass makes LeNet-5 faster
    assert cycles[1][1] < cycles[2][1]  # activations kept on chip: fewer DRAM bytes


def test_errors_are_one_line_exit_2(tmp_path, capsys) -> None:
    assert main(["simulate", "lenet5", "--arch", "edge-int8", "--quant", "fixed:Q2.6"]) == 2
    assert "the DLP runs int8 or fp32 programs" in capsys.readouterr().err
    bad = tmp_path / "bad.dlp"
    bad.write_bytes(b"nope")
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 32, 32), np.float32))
    assert main(["run", str(bad), "--input", str(tmp_path / "x.npy")]) == 2
