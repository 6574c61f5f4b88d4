"""Design-space sweeps: the CSV's content, resuming after a kill, local processes, bad input."""

from __future__ import annotations

import csv
import json
import socket
import time
from pathlib import Path

import pytest

from aics.dlp.arch_io import with_overrides
from aics.errors import ArchError, SweepError
from aics.viz import sweep
from aics.viz.sweep import METRICS, parse_axis, plan, run_sweep, sweep_figure

AXES = ("matrix.rows=16,32", "dram.bandwidth_gbps=12.8,25.6")


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def counting(monkeypatch):
    """Count (and optionally interrupt) the points actually computed by a serial sweep."""
    real = sweep.evaluate

    def install(stop_at: int | None = None):
        calls: list[tuple] = []

        def evaluate(qgraph, base, point):
            if stop_at is not None and len(calls) == stop_at:
                raise KeyboardInterrupt  # the user hits Ctrl-C (or the process dies) here
            calls.append(point.settings)
            return real(qgraph, base, point)

        monkeypatch.setattr(sweep, "evaluate", evaluate)
        return calls

    return install


def test_parse_axis_reads_toml_scalars():
    assert parse_axis("matrix.rows=8, 16,32") == sweep.Axis("matrix.rows", (8, 16, 32))
    assert parse_axis("dram.bandwidth_gbps=12.8,25.6").values == (12.8, 25.6)
    assert parse_axis("matrix.dataflow=os,ws").values == ("os", "ws")
    for bad in ("matrix.rows", "=8", "matrix.rows=8,,16", "matrix.rows=8,8"):
        with pytest.raises(SweepError):
            parse_axis(bad)


def test_plan_is_the_cartesian_product(edge):
    points = plan(edge, ["lenet5", "mnist_mlp"], [parse_axis(a) for a in AXES])
    assert len(points) == 2 * 2 * 2
    assert points[0].settings == (("matrix.rows", 16), ("dram.bandwidth_gbps", 12.8))
    assert points[-1].model == "mnist_mlp" and points[-1].settings == (("matrix.rows", 32),
                                                                        ("dram.bandwidth_gbps", 25.6))


def test_csv_has_every_point_with_its_simulated_numbers(tmp_path, edge, qlenet):
    from aics.compiler.workflow import simulate

    out = tmp_path / "sweep.csv"
    axes = [parse_axis(a) for a in AXES]
    result = run_sweep(["lenet5"], edge, axes, out, load=lambda m: qlenet)
    rows = _read(out)
    assert result.computed == 4 and result.skipped == 0 and rows == result.rows
    assert list(rows[0]) == ["model", "arch", "matrix.rows", "dram.bandwidth_gbps", *METRICS, "error"]
    assert [(r["matrix.rows"], r["dram.bandwidth_gbps"]) for r in rows] == [
        ("16", "12.8"), ("16", "25.6"), ("32", "12.8"), ("32", "25.6")]
    for row in rows:
        arch = with_overrides(edge, {"matrix.rows": int(row["matrix.rows"]),
                                     "dram.bandwidth_gbps": float(row["dram.bandwidth_gbps"])})
        report = simulate(qlenet, arch, functional=False).report
        assert int(row["cycles"]) == report["cycles"]
        assert float(row["utilization"]) == pytest.approx(report["utilization"])
        assert float(row["energy_pj"]) == pytest.approx(report["energy_pj"])
        assert int(row["dram_bytes"]) == report["dram_bytes"] and row["error"] == ""
        assert row["model"] == "lenet5" and row["arch"] == "edge-int8"
    by = {(r["matrix.rows"], r["dram.bandwidth_gbps"]): int(r["cycles"]) for r in rows}
    assert by[("32", "25.6")] < by[("32", "12.8")]  # more bandwidth, fewer cycles
    fig = sweep_figure(rows, axes)
    lines = [ln for ax in fig.axes for ln in ax.lines if (ln.get_gid() or "").startswith("sweep:")]
    assert len(lines) == 2 * 2  # (utilization, latency) x one line per bandwidth
    util = next(ln for ln in fig.axes[0].lines if ln.get_gid() == "sweep:lenet5 dram.bandwidth_gbps=25.6")
    assert list(util.get_xdata()) == [16, 32]
    assert list(util.get_ydata()) == pytest.approx([100 * float(rows[1]["utilization"]),
                                                    100 * float(rows[3]["utilization"])])


def test_killed_sweep_resumes_without_redoing_points(tmp_path, edge, qlenet, counting):
    out = tmp_path / "sweep.csv"
    axes = [parse_axis(a) for a in AXES]
    calls = counting(stop_at=2)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(["lenet5"], edge, axes, out, load=lambda m: qlenet)
    first = _read(out)
    assert len(first) == 2 and len(calls) == 2  # what finished before the kill is on disk
    with open(out, "a") as fh:
        fh.write("lenet5,edge-int8,32,12.8,145")  # a torn line: the process died mid-write
    calls = counting()
    result = run_sweep(["lenet5"], edge, axes, out, load=lambda m: qlenet)
    assert calls == [(("matrix.rows", 32), ("dram.bandwidth_gbps", 12.8)),
                     (("matrix.rows", 32), ("dram.bandwidth_gbps", 25.6))]
    assert result.computed == 2 and result.skipped == 2
    rows = _read(out)
    assert len(rows) == 4 and rows[:2] == first and all(r["cycles"] for r in rows)
    calls = counting()
    again = run_sweep(["lenet5"], edge, axes, out, load=lambda m: qlenet)
    assert calls == [] and again.computed == 0 and again.skipped == 4 and _read(out) == rows
    # widening the sweep runs only the new points
    calls = counting()
    wider = [parse_axis("matrix.rows=16,32,64"), axes[1]]
    run_sweep(["lenet5"], edge, wider, out, load=lambda m: qlenet)
    assert [c[0][1] for c in calls] == [64, 64]
    assert len(_read(out)) == 6


def test_csv_of_another_sweep_is_refused(tmp_path, edge, qlenet):
    out = tmp_path / "sweep.csv"
    run_sweep(["lenet5"], edge, [parse_axis("matrix.rows=16")], out, load=lambda m: qlenet)
    with pytest.raises(SweepError, match=r"has columns .* \(use another -o"):
        run_sweep(["lenet5"], edge, [parse_axis("matrix.cols=16")], out, load=lambda m: qlenet)


def test_impossible_combination_fails_before_any_work(tmp_path, edge, counting):
    calls = counting()
    axes = [parse_axis("matrix.rows=32,256"), parse_axis("matrix.cols=256"), parse_axis("memory.nram_kib=64,512")]
    with pytest.raises(ArchError, match=r"memory.nram_kib: 64 KiB cannot hold one 256x256 .* \(at matrix.rows=256, matrix.cols=256, "
                                        r"memory.nram_kib=64\)"):
        run_sweep(["lenet5"], edge, axes, tmp_path / "s.csv")
    assert calls == [] and not (tmp_path / "s.csv").exists()


def test_local_processes_give_the_serial_results(tmp_path, edge, qlenet):
    axes = [parse_axis("matrix.rows=16,32")]
    serial = run_sweep(["lenet5"], edge, axes, tmp_path / "a.csv", load=lambda m: qlenet)
    pooled = run_sweep(["lenet5"], edge, axes, tmp_path / "b.csv", jobs=2, load=lambda m: qlenet)
    assert pooled.computed == 2
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    assert serial.rows == pooled.rows


# --- the command line --------------------------------------------------------------------------


def test_cli_sweep_writes_csv_plot_and_resumes(cli, tmp_path):
    out, png = tmp_path / "s.csv", tmp_path / "s.png"
    args = ("sweep", "lenet5", "-a", "edge-int8", "--set", "matrix.rows=16,32", "-o", out, "--plot", png,
            "--jobs", "1", "-f", "json")
    code, stdout, err = cli(*args)
    assert code == 0, err
    info = json.loads(stdout)
    assert info["computed"] == 2 and info["skipped"] == 0
    assert [r["matrix.rows"] for r in _read(out)] == ["16", "32"]
    assert png.read_bytes()[:4] == b"\x89PNG"
    code, stdout, err = cli(*args)
    assert code == 0 and json.loads(stdout)["computed"] == 0 and json.loads(stdout)["skipped"] == 2
    code, stdout, _ = cli(*args[:-2])
    assert code == 0 and "2 points (0 run now, 2 already in the CSV)" in stdout


@pytest.mark.parametrize("setting, message", [
    ("matrix.rowz=8,16", "unknown field matrix.rowz (did you mean matrix.rows"),
    ("dram.bandwith_gbps=12.8", "did you mean dram.bandwidth_gbps"),
    ("rows=8", "did you mean matrix.rows"),
    ("matrix.rows=8,abc", "matrix.rows: expected an integer, got str 'abc'"),
    ("matrix.rows=8.5", "matrix.rows: expected an integer, got float 8.5"),
    ("dram.bandwidth_gbps=fast", "dram.bandwidth_gbps: expected a number"),
    ("matrix.rows=0,8", "matrix.rows: must be > 0, got 0"),
    ("matrix.dataflow=os,xs", "'xs' is not one of os, ws, is"),
    ("matrix.rows", "expected FIELD=V1,V2"),
])
def test_cli_bad_set_is_one_line(cli, tmp_path, setting, message):
    out = tmp_path / "s.csv"
    code, stdout, err = cli("sweep", "lenet5", "-a", "edge-int8", "--set", setting, "-o", out, "--jobs", "1")
    assert code == 2 and stdout == ""
    assert err.count("\n") == 1 and err.startswith("aics: error: ") and message in err, err
    assert not out.exists()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_unreachable_ray_is_one_line_and_fast(cli, tmp_path):
    out = tmp_path / "s.csv"
    start = time.monotonic()
    code, stdout, err = cli("sweep", "lenet5", "-a", "edge-int8", "--set", "matrix.rows=16,32", "-o", out,
                            "--ray", f"127.0.0.1:{_closed_port()}")
    assert code == 2 and stdout == "" and err.count("\n") == 1
    assert "--ray 127.0.0.1:" in err
    assert ("no Ray cluster answers there" in err) or ("ray package is not installed" in err)
    assert time.monotonic() - start < 15
    assert not out.exists()
    code, _, err = cli("sweep", "lenet5", "-a", "edge-int8", "-o", out, "--ray", "nowhere")
    assert code == 2 and err.count("\n") == 1


def test_cli_bad_jobs_and_plot(cli, tmp_path):
    code, _, err = cli("sweep", "lenet5", "-a", "edge-int8", "--set", "matrix.rows=16", "-o", tmp_path / "s.csv",
                       "--jobs", "-1")
    assert code == 2 and "--jobs must be at least 1" in err
    code, _, err = cli("sweep", "lenet5", "-a", "edge-int8", "-o", tmp_path / "s.csv", "--plot", tmp_path / "p.png")
    assert code == 2 and "--plot needs at least one --set" in err


def test_point_that_cannot_compile_is_a_row_with_its_error(tmp_path, edge, qlenet, monkeypatch, counting):
    import aics.compiler.compile as compile_mod
    from aics.errors import CompileError

    real = compile_mod.compile_graph

    def picky(graph, arch):
        if arch.matrix.rows == 64:
            raise CompileError("layer features.1: the smallest tile does not fit")
        return real(graph, arch)

    monkeypatch.setattr(compile_mod, "compile_graph", picky)
    out = tmp_path / "s.csv"
    result = run_sweep(["lenet5"], edge, [parse_axis("matrix.rows=32,64")], out, load=lambda m: qlenet)
    ok, bad = _read(out)
    assert ok["cycles"] and ok["error"] == ""
    assert bad["cycles"] == "" and bad["error"] == "layer features.1: the smallest tile does not fit"
    assert result.computed == 2
    calls = counting()
    assert run_sweep(["lenet5"], edge, [parse_axis("matrix.rows=32,64")], out, load=lambda m: qlenet).skipped == 2
    assert calls == []  # a failed point is a result too: not retried
