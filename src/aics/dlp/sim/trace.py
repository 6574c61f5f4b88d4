"""Chrome / Perfetto trace of a timing run, streamed to a JSON file.

``{"traceEvents": [...]}``: one process per core (``pid`` = core id), one thread per unit
(``tid`` = 0 load, 1 store, 2 matrix, 3 vector), named by metadata events; each instruction is a
complete event (``"ph": "X"``) named by its mnemonic and, when tagged, its layer; layers run by
the host CPU are slices of one more process, ``host CPU`` (``pid`` = number of cores). Timestamps are
in cycles (the viewer shows them as microseconds); ``otherData`` gives the clock. Instructions
of zero cycles are left out. A unit runs one instruction at a time, so slices never overlap.
"""

from __future__ import annotations

import json
import os
from typing import IO, Any, Iterable

from aics.dlp.arch import Arch
from aics.dlp.program import Program
from aics.dlp.sim.engine import Facts, Scheduled
from aics.dlp.sim.report import UNIT_NAMES


def write_trace(path: str | os.PathLike[str], program: Program, arch: Arch, active: list[int], facts: list[Facts],
                scheduled: Scheduled, timeline: Iterable[tuple[int, int]],
                host: list[tuple[int, int, int]] | None = None) -> None:
    """Write the trace of a run, given the active cores' ``facts``, the distinct epochs' schedules,
    each epoch's (start, distinct epoch) and the host ops' (tag, start, end) (one more process,
    ``host CPU``), atomically (a temporary name, then renamed)."""
    tmp = f"{os.fspath(path)}.tmp"
    names = {c: [_name(program, instr) for instr in program.code[c]] for c in active}
    with open(tmp, "w", encoding="utf-8") as out:
        out.write('{"otherData": ')
        json.dump({"time_unit": "cycle", "frequency_ghz": arch.frequency_ghz, "arch": arch.name}, out)
        out.write(', "traceEvents": [\n')
        first = True
        for c in active:
            for event in _metadata(c):
                first = _emit(out, event, first)
        cycles, units = [f.cycles.tolist() for f in facts], [f.unit.tolist() for f in facts]
        for start, block in timeline:
            for slot, c in enumerate(active):
                at = scheduled.slot(block, slot)
                for s, end in zip(scheduled.positions[at].tolist(), scheduled.end[at].tolist()):
                    if cycles[slot][s]:
                        first = _emit(out, {"name": names[c][s], "ph": "X", "pid": c, "tid": units[slot][s],
                                            "ts": start + end - cycles[slot][s], "dur": cycles[slot][s],
                                            "args": {"index": s}}, first)
        if host:
            pid = program.cores
            first = _emit(out, {"name": "process_name", "ph": "M", "pid": pid, "args": {"name": "host CPU"}}, first)
            for tag, begin, end in host:
                first = _emit(out, {"name": f"host {program.layer_name(tag)}", "ph": "X", "pid": pid, "tid": 0,
                                    "ts": begin, "dur": end - begin, "args": {"tag": tag}}, first)
        out.write("\n]}\n")
    os.replace(tmp, path)


def _metadata(core: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [{"name": "process_name", "ph": "M", "pid": core, "args": {"name": f"core {core}"}}]
    for unit, name in enumerate(UNIT_NAMES):
        events.append({"name": "thread_name", "ph": "M", "pid": core, "tid": unit, "args": {"name": name}})
        events.append({"name": "thread_sort_index", "ph": "M", "pid": core, "tid": unit,
                       "args": {"sort_index": unit}})
    return events


def _name(program: Program, instr: Any) -> str:
    layer = program.layer_name(instr.tag)
    return f"{instr.MNEMONIC} {layer}" if layer else instr.MNEMONIC


def _emit(out: IO[str], event: dict[str, Any], first: bool) -> bool:
    if not first:
        out.write(",\n")
    out.write(json.dumps(event, separators=(",", ":")))
    return False
