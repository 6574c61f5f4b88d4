"""The ``softmax`` vector instruction: the integer softmax of ``aics.numerics.int_softmax`` per row,
its byte ranges, timing and encodings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aics.dlp import sim
from aics.dlp.arch import Arch, Dram, Memories, MatrixUnit, VectorUnit
from aics.dlp.asm import format_instr, parse_instr
from aics.dlp.encoding import decode, encode
from aics.dlp.isa import DType, Loc, Move, Softmax, Space
from aics.dlp.program import Program, TensorDesc
from aics.numerics import int_softmax as SM

D, N = Space.DRAM, Space.NRAM
ARCH = Arch(name="unit", cores=1, matrix=MatrixUnit(kind="ideal", macs_per_cycle={"int8": 256}),
            vector=VectorUnit(lanes=16), dram=Dram(bandwidth_gbps=16.0, latency_cycles=10),
            memory=Memories(nram_kib=512, wram_kib=64))


def _run(x: np.ndarray, table: np.ndarray, dtype: DType, mode: str) -> np.ndarray:
    rows, cols = x.shape
    data = x.astype(dtype.numpy).tobytes()
    tab = table.astype(np.int32).tobytes()
    t_at, y = 1 << 12, (1 << 12) + 4 * 65536  # room for an int16 table
    code = (Move(src=Loc(D, 0), dst=Loc(N, 0), shape=(1, 1, len(data))),
            Move(src=Loc(D, len(data)), dst=Loc(N, t_at), shape=(1, 1, len(tab))),
            Softmax(rows=rows, cols=cols, dtype=dtype, src=0, table=t_at, dst=y),
            Move(src=Loc(N, y), dst=Loc(D, len(data) + len(tab)), shape=(1, 1, 4 * x.size)))
    program = Program(code=(code,), dram=data + tab, dram_size=len(data) + len(tab) + 4 * x.size,
                      outputs=(TensorDesc("p", len(data) + len(tab), (rows, cols), DType.INT32),))
    return sim.run(program, ARCH, mode=mode).outputs["p"]


@pytest.mark.parametrize("mode", ["functional", "both"])
def test_softmax_rows_equal_the_reference_recipe(mode: str) -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (5, 37)).astype(np.int8)
    x[0] = 7  # a constant row: equal probabilities
    table = SM.exp_table(0.05, 256)
    got = _run(x, table, DType.INT8, mode)
    np.testing.assert_array_equal(got, SM.softmax_q15(x, table, axis=-1))
    assert np.all(got[0] == got[0, 0]) and abs(int(got[1].sum()) - 2**15) <= 37


def test_softmax_int16_uses_a_65536_entry_table() -> None:
    x = np.array([[-30000, 0, 29000, 5]], dtype=np.int16)
    table = SM.exp_table(1e-4, 65536)
    np.testing.assert_array_equal(_run(x, table, DType.INT16, "functional"), SM.softmax_q15(x, table, axis=-1))


def test_softmax_ranges_work_and_problems() -> None:
    i = Softmax(rows=3, cols=10, dtype=DType.INT8, src=0, table=64, dst=2048)
    assert i.reads() == ((N, 0, 30), (N, 64, 64 + 1024)) and i.writes() == ((N, 2048, 2048 + 120),)
    assert i.work().vector_op == "SOFTMAX" and i.work().vector_elems == 4 * 30
    cycles = sim.run(Program(code=((i,),), dram_size=64), ARCH, mode="timing").cycles
    assert cycles == math.ceil(4 * 30 / 16)
    with pytest.raises(ValueError, match="int8 or int16"):
        Softmax(rows=1, cols=4, dtype=DType.FP32, src=0, table=0, dst=0)
    with pytest.raises(ValueError, match="65536"):
        Softmax(rows=1, cols=1 << 16, dtype=DType.INT8, src=0, table=0, dst=0)


def test_softmax_encodes_and_assembles_round_trip() -> None:
    i = Softmax(rows=7, cols=65, dtype=DType.INT16, src=0x40, table=0x1000, dst=0x2000, tag=3)
    assert decode(encode(i)) == (i, len(encode(i)))
    assert parse_instr(format_instr(i)) == i
