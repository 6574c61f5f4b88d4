"""``aics asm`` and ``aics disasm`` through the real entry point, including bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aics.cli.main import main

EXAMPLES = Path(__file__).parents[2] / "examples" / "textbook"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_asm_json_report_trace_and_program(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    trace, prog = tmp_path / "trace.json", tmp_path / "p.dlp"
    code, out, _ = run(capsys, "asm", str(EXAMPLES / "ex7_09_double_buffered.s"), "--arch", "textbook-7.7",
                       "--format", "json", "--trace", str(trace), "-o", str(prog))
    assert code == 0
    report = json.loads(out)
    assert report["cycles"] == 133888 and report["seconds"] == pytest.approx(133888e-9)
    assert set(report["busy_cycles"][0]) == {"load", "store", "matrix", "vector"}
    assert report["busy_cycles"][0]["matrix"] == 32 * 4096
    assert report["dram_bytes"] == 131072 + 32 * 32768 + 32 * 16384
    assert report["arch"]["name"] == "textbook-7.7" and report["functional"] is False
    assert {"utilization", "stalls", "energy_pj"} <= set(report)
    assert json.loads(trace.read_text())["traceEvents"]
    code, out, _ = run(capsys, "disasm", str(prog))
    assert code == 0 and "loop 30" in out and "move DRAM WRAM 131072" in out


def test_asm_simulates_a_program_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A .dlp is simulated as loaded (its code stays encoded): the same report as its source."""
    source, prog = tmp_path / "double.s", tmp_path / "double.dlp"
    source.write_text(DOUBLE)
    code, out, _ = run(capsys, "asm", str(source), "-a", "edge-int8", "-f", "json", "--timing-only", "-o", str(prog))
    assert code == 0
    want = json.loads(out)
    assert want["functional"] is False and want["cycles"] > 0
    code, out, _ = run(capsys, "asm", str(prog), "-a", "edge-int8", "-f", "json", "--timing-only")
    assert code == 0 and json.loads(out) == {**want, "file": str(prog)}
    x = tmp_path / "x.npy"
    np.save(x, np.arange(8, dtype=np.int8))
    code, out, _ = run(capsys, "asm", str(prog), "-a", "edge-int8", "-f", "json", "--input", f"x={x}")
    assert code == 0 and json.loads(out)["outputs"]["y"] == [0, 2, 4, 6, 8, 10, 12, 14]


def test_asm_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "asm", str(EXAMPLES / "ex7_11_overlapped.s"), "--arch", "textbook-7.11")
    assert code == 0 and "1,889" in out and "matrix" in out


DOUBLE = """
    .input x addr=0x0 shape=8 dtype=int8
    .output y addr=0x10 shape=8 dtype=int8
    move src=DRAM:0x0 dst=NRAM:0x0 shape=1x1x8
    eltwise op=add dtype=int8 rows=1 cols=8 a=0x0 b=0x0 out=0x20
    move src=NRAM:0x20 dst=DRAM:0x10 shape=1x1x8
"""


def test_full_form_runs_functionally_with_inputs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = tmp_path / "double.s"
    source.write_text(DOUBLE)
    x = tmp_path / "x.npy"
    np.save(x, np.array([1, 2, 3, -4, 60, 70, -70, 0], dtype=np.int8))
    code, out, _ = run(capsys, "asm", str(source), "-a", "edge-int8", "-f", "json", "--input", f"x={x}")
    assert code == 0
    report = json.loads(out)
    assert report["functional"] is True
    assert report["outputs"]["y"] == [2, 4, 6, -8, 120, 127, -128, 0]
    code, _, err = run(capsys, "asm", str(source), "-a", "edge-int8")
    assert code == 2 and "missing input 'x'" in err


@pytest.mark.parametrize("text, message", [
    ("move DRAM XRAM 4\n", ":1:11: bad ram type 'XRAM'"),
    ("loop 2\ncompute MAC_32 4\n", ":1:1: unbalanced loop"),
    ("move DRAM NRAM 4.5\n", ":1:16: size must be a non-negative integer"),
    ("core 1\nsync\n", ":1:6: core 1 is beyond the arch"),
    ("frobnicate\n", ":1:1: unknown mnemonic"),
])
def test_asm_errors_exit_2_with_file_line_col(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str,
                                              message: str) -> None:
    source = tmp_path / "bad.s"
    source.write_text(text)
    code, out, err = run(capsys, "asm", str(source), "--arch", "textbook-7.7")
    assert code == 2 and out == ""
    assert err.startswith("aics: error: ") and f"bad.s{message}" in err and err.count("\n") == 1


def test_disasm_refuses_bad_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.dlp"
    bad.write_bytes(b"AICSDLP\0\x09\x00")
    code, _, err = run(capsys, "disasm", str(bad))
    assert code == 2 and "truncated header" in err
    code, _, err = run(capsys, "asm", str(EXAMPLES / "ex7_07.s"), "--arch", "no-such-arch")
    assert code == 2 and "no such preset" in err
