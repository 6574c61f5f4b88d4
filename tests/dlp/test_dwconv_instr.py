"""The ``dwconv`` vector instruction: depthwise convolution with int32 accumulators, its byte
ranges, timing (one MAC per lane per cycle) and encodings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aics.dlp import sim
from aics.dlp.arch import Arch, Dram, Memories, MatrixUnit, VectorUnit
from aics.dlp.asm import format_instr, parse_instr
from aics.dlp.encoding import decode, encode
from aics.dlp.isa import DType, DwConv, Loc, Move, Space
from aics.dlp.program import Program, TensorDesc

D, N = Space.DRAM, Space.NRAM
ARCH = Arch(name="unit", cores=1, matrix=MatrixUnit(kind="ideal", macs_per_cycle={"int8": 256}),
            vector=VectorUnit(lanes=16), dram=Dram(bandwidth_gbps=16.0, latency_cycles=10),
            memory=Memories(nram_kib=512, wram_kib=64))


def _reference(x, w, stride, dilation, pad, zp):
    """Plain loops over the definition in the instruction's docstring."""
    c, h, wd = x.shape
    kh, kw = w.shape[1:]
    ho = (h + pad[0] + pad[1] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + pad[2] + pad[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((c, ho, wo), np.int64)
    for ch in range(c):
        for y in range(ho):
            for xx in range(wo):
                for i in range(kh):
                    for j in range(kw):
                        r, q = y * stride[0] + i * dilation[0] - pad[0], xx * stride[1] + j * dilation[1] - pad[2]
                        v = int(x[ch, r, q]) - zp if 0 <= r < h and 0 <= q < wd else 0
                        out[ch, y, xx] += v * int(w[ch, i, j])
    return out.astype(np.int32)


def _run(x, w, mode="functional", accumulate_twice=False, **geometry):
    c, h, wd = x.shape
    i = DwConv(c=c, h=h, w=wd, kernel=w.shape[1:], inp=0, wgt=4096, out=8192, dtype=DType.INT8, **geometry)
    n_out = 4 * c * i.ho * i.wo
    data = x.astype(np.int8).tobytes() + w.astype(np.int8).tobytes()
    code = [Move(src=Loc(D, 0), dst=Loc(N, 0), shape=(1, 1, x.size)),
            Move(src=Loc(D, x.size), dst=Loc(N, 4096), shape=(1, 1, w.size)), i]
    if accumulate_twice:
        code.append(DwConv(**{**{f: getattr(i, f) for f in ("c", "h", "w", "kernel", "inp", "wgt", "out", "dtype",
                                                           "stride", "dilation", "pad", "a_offset")},
                              "accumulate": True}))
    code.append(Move(src=Loc(N, 8192), dst=Loc(D, len(data)), shape=(1, 1, n_out)))
    program = Program(code=(tuple(code),), dram=data, dram_size=len(data) + n_out,
                      outputs=(TensorDesc("y", len(data), (c, i.ho, i.wo), DType.INT32),))
    return sim.run(program, ARCH, mode=mode), i


@pytest.mark.parametrize("geometry", [
    dict(pad=(1, 1, 1, 1), a_offset=-3),
    dict(stride=(2, 2), pad=(0, 1, 0, 1), a_offset=5),
    dict(dilation=(2, 1), pad=(2, 2, 1, 0), a_offset=0),
])
def test_dwconv_equals_the_definition(geometry) -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (5, 9, 7)).astype(np.int8)
    w = rng.integers(-127, 128, (5, 3, 3)).astype(np.int8)
    result, _ = _run(x, w, "both", **geometry)
    np.testing.assert_array_equal(result.outputs["y"], _reference(x, w, geometry.get("stride", (1, 1)),
                                                                  geometry.get("dilation", (1, 1)),
                                                                  geometry["pad"], geometry["a_offset"]))


def test_dwconv_accumulates() -> None:
    rng = np.random.default_rng(2)
    x, w = rng.integers(-128, 128, (3, 6, 6)), rng.integers(-127, 128, (3, 3, 3))
    result, _ = _run(x, w, accumulate_twice=True, pad=(1, 1, 1, 1))
    np.testing.assert_array_equal(result.outputs["y"], 2 * _reference(x, w, (1, 1), (1, 1), (1, 1, 1, 1), 0))


def test_dwconv_ranges_work_and_timing() -> None:
    i = DwConv(c=4, h=6, w=6, kernel=(3, 3), inp=0, wgt=256, out=1024, dtype=DType.INT8, stride=(2, 2),
               pad=(1, 1, 1, 1))
    assert (i.ho, i.wo) == (3, 3)
    assert i.reads() == ((N, 0, 144), (N, 256, 256 + 36)) and i.writes() == ((N, 1024, 1024 + 4 * 36),)
    assert i.work().vector_op == "MAC_8" and i.work().vector_elems == 4 * 9 * 9 and i.work().macs == 0
    cycles = sim.run(Program(code=((i,),), dram_size=64), ARCH, mode="timing").cycles
    assert cycles == math.ceil(4 * 9 * 9 / 16)  # 16 lanes, one multiply-accumulate each per cycle
    acc = DwConv(c=4, h=6, w=6, kernel=(3, 3), inp=0, wgt=256, out=1024, dtype=DType.INT8, accumulate=True)
    assert acc.reads()[-1] == (N, 1024, 1024 + 4 * 4 * 16)


def test_dwconv_problems() -> None:
    with pytest.raises(ValueError, match="larger than the padded input"):
        DwConv(c=1, h=2, w=2, kernel=(3, 3), inp=0, wgt=0, out=0, dtype=DType.INT8)
    with pytest.raises(ValueError, match="a_offset must be 0"):
        DwConv(c=1, h=3, w=3, kernel=(3, 3), inp=0, wgt=0, out=0, dtype=DType.FP32, a_offset=2)
    with pytest.raises(ValueError, match=">= 1"):
        DwConv(c=0, h=3, w=3, kernel=(3, 3), inp=0, wgt=0, out=0, dtype=DType.INT8)


def test_dwconv_encodes_and_assembles_round_trip() -> None:
    i = DwConv(c=7, h=9, w=11, kernel=(5, 3), inp=0x40, wgt=0x1000, out=0x2000, dtype=DType.INT8, stride=(2, 1),
               dilation=(1, 2), pad=(2, 2, 1, 1), a_offset=-7, accumulate=True, tag=3)
    assert decode(encode(i)) == (i, len(encode(i)))
    assert parse_instr(format_instr(i)) == i
