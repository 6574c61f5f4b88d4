"""``aics scalesim`` and ``aics arch``: what a user sees, through the CLI's own entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aics.cli.main import main
from aics.dlp.arch_io import load_arch, loads_arch

DATA = Path(__file__).parent / "data"


def test_scalesim_json_prints_our_cycles(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """test3 on 32x32 os: our cycles are SCALE-Sim's + 1 per layer: 712 + 1248 + 422 = 2,382."""
    status = main(["scalesim", "-c", str(DATA / "sa32_os.cfg"), "-t", str(DATA / "test3_scalesim.csv"),
                   "-o", str(tmp_path), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [(l["name"], l["compute_cycles"]) for l in out["layers"]] == [
        ("conv3x3", 712), ("conv1x1", 1248), ("conv3x3s2", 422)]
    assert out["total_cycles"] == 2382
    assert out["layers"][0]["utilization"] == pytest.approx(110_592 / (1024 * 712))
    assert (tmp_path / "COMPUTE_REPORT.csv").read_text().splitlines()[3].startswith("2, 421, 0, ")


def test_scalesim_gemm_table(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["scalesim", "-c", str(DATA / "sa32_ws.cfg"), "-t", str(DATA / "gemm_mnk.csv"),
                   "-i", "gemm", "-l", str(DATA / "layout_empty.csv")])
    out = capsys.readouterr().out
    assert status == 0 and "fc_small" in out and "1,163" in out and "1,794" in out


def test_scalesim_bad_cfg_exits_2_with_one_line(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    cfg = tmp_path / "bad.cfg"
    cfg.write_text("[architecture_presets]\nArrayHeight: 32\n")
    status = main(["scalesim", "-c", str(cfg), "-t", str(DATA / "test3_scalesim.csv"),
                   "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2
    assert err == f"aics: error: {cfg}: [architecture_presets] ArrayWidth: missing\n"
    assert not (tmp_path / "out").exists()


def test_arch_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["arch", "list"]) == 0
    listing = capsys.readouterr().out
    assert "tpu-v1" in listing and "256x256" in listing and "45,875.2 int8" in listing
    assert main(["arch", "show", "edge-int8", "--set", "matrix.rows=64"]) == 0
    shown = loads_arch(capsys.readouterr().out)
    assert shown.matrix.rows == 64 and shown.matrix.macs_per_cycle == {"int8": 2048}
    assert main(["arch", "show", str(DATA / "sa32_ws.cfg")]) == 0
    assert loads_arch(capsys.readouterr().out) == load_arch(DATA / "sa32_ws.cfg")


def test_arch_show_bad_override_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["arch", "show", "edge-int8", "--set", "matrix.rowz=64"]) == 2
    assert capsys.readouterr().err.startswith("aics: error: overrides: unknown field matrix.rowz")
