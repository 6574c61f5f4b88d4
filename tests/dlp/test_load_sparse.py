"""The ``load_sparse`` DMA: a bitmap-encoded tensor from DRAM, dense on chip; only the encoded
bytes hold the DRAM channel (exercise 7.10)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aics.dlp import sim
from aics.dlp.arch import Arch, Dram, Memories, MatrixUnit, VectorUnit
from aics.dlp.asm import format_instr, parse_instr
from aics.dlp.encoding import decode, encode
from aics.dlp.isa import BY_OPCODE, INSTRUCTIONS, DType, LoadSparse, Loc, Move, Space
from aics.dlp.program import Program, TensorDesc
from aics.errors import SimulationError
from aics.numerics.sparse import bitmap_blob

D, N, W = Space.DRAM, Space.NRAM, Space.WRAM
ARCH = Arch(name="unit", cores=1, matrix=MatrixUnit(kind="ideal", macs_per_cycle={"int8": 256}),
            vector=VectorUnit(lanes=16), dram=Dram(bandwidth_gbps=16.0, latency_cycles=10),
            memory=Memories(nram_kib=64, wram_kib=64))


def _program(w: np.ndarray, nnz: int | None = None) -> Program:
    blob = bitmap_blob(w)
    n = w.size
    out = 1 << 12
    code = (LoadSparse(src=Loc(D, 0), dst=Loc(W, 0), n=n, nnz=int(np.count_nonzero(w)) if nnz is None else nnz),
            Move(src=Loc(W, 0), dst=Loc(N, 0), shape=(1, 1, n)),
            Move(src=Loc(N, 0), dst=Loc(D, out), shape=(1, 1, n)))
    return Program(code=(code,), dram=blob, dram_size=out + n, outputs=(TensorDesc("w", out, w.shape, DType.INT8),))


def test_dense_result_and_encoded_dram_bytes() -> None:
    rng = np.random.default_rng(0)
    w = rng.integers(-127, 128, (40, 9)).astype(np.int8)
    w[rng.random(w.shape) < 0.75] = 0  # 75 % sparse, as in exercise 7.10's 1/4 volume
    result = sim.run(_program(w), ARCH)
    assert np.array_equal(result.outputs["w"], w)
    nnz, n = int(np.count_nonzero(w)), w.size
    encoded = math.ceil(n / 8) + nnz
    t = result.timing
    assert t.bytes["dram"] == encoded + n  # the sparse load reads the encoded bytes; the store writes n
    bpc = 16.0 / 1.0  # bytes per cycle at 1 GHz
    load = 10 + math.ceil(encoded / bpc)
    assert t.units[0]["load"].busy == load + math.ceil(n / (4 * 16))  # + the on-chip WRAM -> NRAM move


def test_wrong_nnz_is_an_error_naming_the_instruction() -> None:
    w = np.array([0, 3, 0, -2, 0, 0, 0, 1, 5], np.int8)
    with pytest.raises(SimulationError, match=r"instruction 0 \(load_sparse\): the bitmap .* marks 4 values"):
        sim.run(_program(w, nnz=3), ARCH, mode="functional")


def test_encodings_round_trip_and_opcodes_are_unique() -> None:
    i = LoadSparse(src=Loc(D, 0x40), dst=Loc(W, 0x80), n=360, nnz=91, tag=3)
    assert decode(encode(i))[0] == i and parse_instr(format_instr(i)) == i
    assert i.reads() == ((D, 0x40, 0x40 + 45 + 91),) and i.writes() == ((W, 0x80, 0x80 + 360),)
    assert len(BY_OPCODE) == len(INSTRUCTIONS)


def test_bad_destination_is_refused() -> None:
    with pytest.raises(ValueError, match="NRAM or WRAM"):
        LoadSparse(src=Loc(D, 0), dst=Loc(D, 0), n=8, nnz=1)
