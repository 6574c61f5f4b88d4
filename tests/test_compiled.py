"""``aics.compiled``: a compiled function computes what its Python source computes (the source is
what readers and ``NUMBA_DISABLE_JIT=1`` runs see)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from aics.dlp.arch_io import load_arch
from aics.dlp.encoding import _LENGTHS, _frame, _gather, _starts, encode_all
from aics.dlp.sim import engine, hazards
from aics.dlp.sim.costs import CostModel
from aics.dlp.sim.decode import decode
from aics.dlp.sim.flow import blocks


def _full_form(count: int) -> tuple:
    spec = importlib.util.spec_from_file_location("sim_speed", Path(__file__).parents[1] / "bench" / "sim_speed.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.full_form(count).code[0]


def test_compiled_functions_equal_their_python_source() -> None:
    code = _full_form(400)
    raw = np.frombuffer(encode_all(code), dtype=np.uint8)
    lengths = _LENGTHS
    assert _frame(raw, lengths) == _frame.__wrapped__(raw, lengths) == (400, -1)
    starts = _starts(raw, lengths, 400)
    assert (starts == _starts.__wrapped__(raw, lengths, 400)).all()
    assert (_gather(raw, starts, 3) == _gather.__wrapped__(raw, starts, 3)).all()

    decoded = decode(code, CostModel(load_arch("edge-int8"), 1 << 33), 0)
    unit = decoded.column("unit")
    seq = np.arange(len(code))
    pos, write, seg, count = hazards.accesses(seq, decoded.ranges)
    args = (pos, write, seg, unit, np.zeros(len(code), dtype=np.int64), count)
    latest = hazards._sweep(*args)
    assert (latest == hazards._sweep.__wrapped__(*args)).all() and (latest >= 0).any()

    dist = hazards.distances(blocks(code), unit, decoded.ranges, unit == 4)
    order = np.argsort(unit, kind="stable")
    first = np.searchsorted(unit[order], np.arange(5))
    args = (order, first, unit, dist.astype(np.int64), decoded.column("cycles"), decoded.column("dram", bool), 4)
    for got, want in zip(engine._run(*args), engine._run.__wrapped__(*args)):
        assert (got == want).all()
