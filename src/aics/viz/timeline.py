"""Reading back the simulator's Chrome/Perfetto trace: a schema check and a unit timeline plot.

The trace (``aics.dlp.sim.trace``) is the one record of *when* each instruction ran; the report's
unit timeline is drawn from it so the picture and the file a user opens in Perfetto agree.
``check_trace`` states what a valid trace is (and what the tests hold it to): a JSON object with
a ``traceEvents`` list; metadata events (``ph`` M) naming processes (cores) and threads (units);
complete events (``ph`` X) with a string ``name``, integer ``ts`` >= 0, ``dur`` > 0, ``pid`` and
``tid``; and per (pid, tid) track, slices that never overlap (a unit runs one instruction at a time).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aics.errors import TraceError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SLICE_KEYS = ("name", "ph", "ts", "dur", "pid", "tid")


@dataclass(frozen=True)
class Slice:
    ts: int
    dur: int
    name: str

    @property
    def layer(self) -> str:
        """The layer part of ``"MNEMONIC LAYER"`` ("" for untagged instructions)."""
        return self.name.partition(" ")[2]


@dataclass(frozen=True)
class Timeline:
    """Slices per track, tracks keyed (core, unit) and named from the metadata events."""

    tracks: dict[tuple[int, int], list[Slice]]
    names: dict[tuple[int, int], str]  # "core 0 / matrix"
    end: int  # last slice end (cycles)

    @property
    def busy(self) -> dict[tuple[int, int], int]:
        return {k: sum(s.dur for s in v) for k, v in self.tracks.items()}


def load_trace(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TraceError(f"{os.fspath(path)}: not a readable JSON trace: {err}") from None
    return data


def check_trace(data: Any) -> Timeline:
    """Validate a trace object (see the module docstring) and return its timeline."""
    if not isinstance(data, dict) or not isinstance(data.get("traceEvents"), list):
        raise TraceError("trace: expected a JSON object with a traceEvents list")
    procs: dict[int, str] = {}
    threads: dict[tuple[int, int], str] = {}
    tracks: dict[tuple[int, int], list[Slice]] = defaultdict(list)
    for i, ev in enumerate(data["traceEvents"]):
        if not isinstance(ev, dict) or not isinstance(ev.get("name"), str) or ev.get("ph") not in ("X", "M"):
            raise TraceError(f"trace event {i}: expected an object with a name and ph X or M, got {ev!r:.80}")
        if not isinstance(ev.get("pid"), int):
            raise TraceError(f"trace event {i} ({ev['name']}): pid must be an integer")
        if ev["ph"] == "M":
            name = (ev.get("args") or {}).get("name")
            if ev["name"] == "process_name" and isinstance(name, str):
                procs[ev["pid"]] = name
            elif ev["name"] == "thread_name" and isinstance(name, str) and isinstance(ev.get("tid"), int):
                threads[(ev["pid"], ev["tid"])] = name
            continue
        missing = [k for k in SLICE_KEYS if k not in ev]
        if missing:
            raise TraceError(f"trace event {i} ({ev['name']}): missing {', '.join(missing)}")
        ts, dur, tid = ev["ts"], ev["dur"], ev["tid"]
        if not (isinstance(ts, int) and isinstance(dur, int) and isinstance(tid, int)) or ts < 0 or dur <= 0:
            raise TraceError(f"trace event {i} ({ev['name']}): ts, dur, tid must be integers, ts >= 0, dur > 0")
        tracks[(ev["pid"], tid)].append(Slice(ts, dur, ev["name"]))
    for key, slices in tracks.items():
        slices.sort(key=lambda s: s.ts)
        for a, b in zip(slices, slices[1:]):
            if b.ts < a.ts + a.dur:
                raise TraceError(f"trace: core {key[0]} unit {key[1]}: '{b.name}' at {b.ts} starts before "
                                 f"'{a.name}' ends at {a.ts + a.dur}")
    names = {k: _track_name(k, procs, threads) for k in sorted(set(tracks) | set(threads))}
    end = max((s.ts + s.dur for v in tracks.values() for s in v), default=0)
    return Timeline(dict(sorted(tracks.items())), names, end)


def _track_name(key: tuple[int, int], procs: dict[int, str], threads: dict[tuple[int, int], str]) -> str:
    """"core 0 / matrix"; a process with one unnamed thread (the host CPU) goes by its own name."""
    proc = procs.get(key[0], f"core {key[0]}")
    if key in threads:
        return f"{proc} / {threads[key]}"
    return proc if key[0] in procs else f"{proc} / unit {key[1]}"


def timeline_figure(timeline: Timeline, title: str = "Unit timeline", max_layers: int = 40) -> Figure:
    """One row per (core, unit); slices coloured by layer (cycled when there are many), idle time
    white. Rows carry ``gid="track:CORE:UNIT"``."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    keys = list(timeline.names)
    fig = Figure(figsize=(10, 0.45 * len(keys) + 1.6), layout="constrained")
    ax = fig.add_subplot()
    layers = list(dict.fromkeys(s.layer for v in timeline.tracks.values() for s in v))
    palette = [f"C{i % 10}" for i in range(len(layers))]
    color = dict(zip(layers, palette))
    for row, key in enumerate(keys):
        slices = timeline.tracks.get(key, [])
        if slices:
            ax.broken_barh([(s.ts, s.dur) for s in slices], (row - 0.4, 0.8),
                           facecolors=[color[s.layer] for s in slices], gid=f"track:{key[0]}:{key[1]}")
    ax.set_yticks(range(len(keys)), [timeline.names[k] for k in keys], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(timeline.end, 1))
    ax.set_xlabel("cycle")
    ax.set_title(title)
    if 0 < len(layers) <= max_layers:
        handles = [Patch(color=color[name], label=name or "(untagged)") for name in layers]
        ax.legend(handles=handles, fontsize=6, ncol=min(6, len(handles)), loc="upper center",
                  bbox_to_anchor=(0.5, -0.25), frameon=False)
    return fig
