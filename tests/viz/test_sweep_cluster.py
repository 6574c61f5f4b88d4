"""Sweeps at scale: on a local Ray cluster started by the test, and the 32-point acceptance sweep
(LeNet-5 and ResNet-18) killed midway and resumed. Both take tens of seconds: ``slow``."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aics.viz.sweep import parse_axis, run_sweep

pytestmark = pytest.mark.slow
AICS = str(Path(sys.executable).with_name("aics"))


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_cluster(tmp_path):
    """A one-node Ray cluster in its own process group (``ray start --head --block``), stopped by
    signalling that group only: nothing else on the machine is touched."""
    pytest.importorskip("ray", reason="ray is not installed (pip install 'aics[ray]')")
    port = _free_port()
    ray_bin = str(Path(sys.executable).with_name("ray"))
    temp = Path("/tmp") / f"aics-ray-{os.getpid()}-{port}"  # Ray wants a short socket path
    proc = subprocess.Popen([ray_bin, "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
                             "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the local Ray head did not start")
                time.sleep(0.3)
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_sweep_matches_the_local_one(ray_cluster, tmp_path, edge, qlenet):
    axes = [parse_axis("matrix.rows=16,32"), parse_axis("dram.bandwidth_gbps=12.8,25.6")]
    local = run_sweep(["lenet5"], edge, axes, tmp_path / "local.csv", load=lambda m: qlenet)
    on_ray = run_sweep(["lenet5"], edge, axes, tmp_path / "ray.csv", ray_address=ray_cluster,
                       load=lambda m: qlenet)
    assert on_ray.computed == 4
    assert (tmp_path / "ray.csv").read_text() == (tmp_path / "local.csv").read_text()
    assert on_ray.rows == local.rows
    again = run_sweep(["lenet5"], edge, axes, tmp_path / "ray.csv", ray_address=ray_cluster,
                      load=lambda m: qlenet)
    assert again.computed == 0 and again.skipped == 4


def test_32_point_sweep_killed_midway_completes_the_rest(tmp_path):
    out = tmp_path / "sweep.csv"
    args = [AICS, "sweep", "lenet5", "resnet18", "-a", "edge-int8", "--set", "matrix.rows=8,16,32,64",
            "--set", "matrix.cols=16,32", "--set", "dram.bandwidth_gbps=12.8,25.6", "-o", str(out),
            "--jobs", "2", "-f", "json"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while len(_read(out)) < 4 if out.exists() else True:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker processes, mid-run
        proc.wait()
    before = [r for r in _read(out) if r["cycles"]]
    assert 4 <= len(before) < 32
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["skipped"] >= len(before) and info["computed"] == 32 - info["skipped"]
    rows = _read(out)
    assert len(rows) == 32 and all(r["cycles"] and not r["error"] for r in rows)
    assert {r["model"] for r in rows} == {"lenet5", "resnet18"}
    key = ("model", "matrix.rows", "matrix.cols", "dram.bandwidth_gbps")
    assert len({tuple(r[k] for k in key) for r in rows}) == 32
    final = {tuple(r[k] for k in key): r for r in rows}
    for r in before:  # finished points were kept, not redone
        assert final[tuple(r[k] for k in key)] == r
