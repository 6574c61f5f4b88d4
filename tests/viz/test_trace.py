"""Chrome/Perfetto traces: valid trace JSON, one track per unit per core, instruction and layer
names on slices, slices per unit never overlapping, and busy time matching the timing report."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from aics.errors import TraceError
from aics.viz.timeline import check_trace, load_trace, timeline_figure

UNITS = ("load", "store", "matrix", "vector")


def _schema_check(data: dict) -> dict[tuple[int, int], list[dict]]:
    """The check written out independently of ``check_trace``: returns the X slices per track."""
    assert isinstance(data, dict) and isinstance(data["traceEvents"], list)
    tracks: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for ev in data["traceEvents"]:
        assert isinstance(ev["name"], str) and ev["ph"] in ("X", "M") and isinstance(ev["pid"], int)
        if ev["ph"] == "M":
            assert ev["name"] in ("process_name", "thread_name", "thread_sort_index")
            assert isinstance(ev["args"], dict)
            if ev["name"] != "process_name":
                assert isinstance(ev["tid"], int)
            continue
        for key in ("name", "ph", "ts", "dur", "pid", "tid"):
            assert key in ev, (key, ev)
        assert isinstance(ev["ts"], int) and ev["ts"] >= 0
        assert isinstance(ev["dur"], int) and ev["dur"] > 0
        assert isinstance(ev["tid"], int)
        tracks[(ev["pid"], ev["tid"])].append(ev)
    for slices in tracks.values():
        slices.sort(key=lambda e: e["ts"])
        for a, b in zip(slices, slices[1:]):
            assert b["ts"] >= a["ts"] + a["dur"], (a, b)
    return tracks


def _check_against_timing(trace_path, prof) -> None:
    data = json.loads(trace_path.read_text())
    tracks = _schema_check(data)
    timeline = check_trace(data)
    threads = {(ev["pid"], ev["tid"]): ev["args"]["name"] for ev in data["traceEvents"]
               if ev["name"] == "thread_name"}
    cores = len(prof.timing.units)
    assert sorted(threads) == [(c, u) for c in range(cores) for u in range(4)]  # a track per unit per core
    assert all(threads[(c, u)] == UNITS[u] for c, u in threads)
    for c, units in enumerate(prof.timing.units):
        for u, name in enumerate(UNITS):
            busy = sum(ev["dur"] for ev in tracks.get((c, u), []))
            assert busy == units[name].busy == timeline.busy.get((c, u), 0)
    end = max(ev["ts"] + ev["dur"] for evs in tracks.values() for ev in evs)
    assert end == prof.timing.cycles == timeline.end
    layers = {layer["name"] for layer in prof.report["layers"]}
    named = {ev["name"].partition(" ")[2] for evs in tracks.values() for ev in evs}
    assert layers <= named  # every layer shows on the slices of its instructions
    mnemonics = {ev["name"].partition(" ")[0] for evs in tracks.values() for ev in evs}
    assert {"move", "conv"} <= mnemonics


def test_trace_of_lenet5(lenet_profile):
    prof, trace = lenet_profile
    _check_against_timing(trace, prof)


def test_trace_of_four_cores(qlenet, tmp_path):
    from aics.dlp.arch_io import load_arch
    from aics.viz.profile import profile

    trace = tmp_path / "t.json"
    prof = profile(qlenet, load_arch("edge-int8-4core"), "lenet5", trace=trace)
    assert len(prof.timing.units) == 4
    _check_against_timing(trace, prof)


def test_check_trace_rejects_overlaps_and_bad_events():
    meta = [{"name": "thread_name", "ph": "M", "pid": 0, "tid": 2, "args": {"name": "matrix"}}]
    ok = [{"name": "conv a", "ph": "X", "pid": 0, "tid": 2, "ts": 0, "dur": 10},
          {"name": "conv b", "ph": "X", "pid": 0, "tid": 2, "ts": 10, "dur": 5}]
    assert check_trace({"traceEvents": meta + ok}).busy == {(0, 2): 15}
    overlap = ok + [{"name": "conv c", "ph": "X", "pid": 0, "tid": 2, "ts": 12, "dur": 1}]
    with pytest.raises(TraceError, match="'conv c' at 12 starts before 'conv b' ends at 15"):
        check_trace({"traceEvents": overlap})
    with pytest.raises(TraceError, match="missing dur"):
        check_trace({"traceEvents": [{"name": "x", "ph": "X", "pid": 0, "tid": 0, "ts": 0}]})
    with pytest.raises(TraceError, match="traceEvents"):
        check_trace([])


def test_load_trace_bad_file(tmp_path):
    bad = tmp_path / "t.json"
    bad.write_text("{not json")
    with pytest.raises(TraceError, match="not a readable JSON trace"):
        load_trace(bad)


def test_timeline_figure_has_a_row_per_track(lenet_profile):
    _, trace = lenet_profile
    timeline = check_trace(load_trace(trace))
    fig = timeline_figure(timeline)
    bars = [c for c in fig.axes[0].collections if (c.get_gid() or "").startswith("track:")]
    assert len(bars) == len(timeline.tracks) == 4
    assert sum(len(b.get_paths()) for b in bars) == sum(len(v) for v in timeline.tracks.values())


@pytest.mark.parametrize("command", [
    ("simulate", "lenet5", "-a", "edge-int8", "--timing-only"),
    ("report", "lenet5", "-a", "edge-int8", "-o", "{tmp}/r.html"),
    ("roofline", "lenet5", "-a", "edge-int8", "-o", "{tmp}/r.png"),
])
def test_cli_trace_everywhere(cli, tmp_path, command):
    trace = tmp_path / "trace.json"
    code, _, err = cli(*(c.format(tmp=tmp_path) for c in command), "--trace", trace)
    assert code == 0, err
    timeline = check_trace(load_trace(trace))
    assert len(timeline.tracks) >= 3 and timeline.end > 0


def test_cli_roofline_several_models_one_trace_each(cli, tmp_path):
    trace = tmp_path / "t.json"
    code, _, err = cli("roofline", "lenet5", "mnist_mlp", "-a", "edge-int8", "-o", tmp_path / "r.png",
                       "--trace", trace)
    assert code == 0, err
    for name in ("t.lenet5.json", "t.mnist_mlp.json"):
        check_trace(load_trace(tmp_path / name))
