"""Functional simulation of every instruction against plain numpy (int64 for integers).

Each test wraps the instruction in a real program: DMA the operands from a DRAM image into
NRAM/WRAM, run it, DMA the result out to a declared output. The same tests run through the
functional simulator alone and through the combined (functional + timing) run.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pytest

from aics.dlp import sim
from aics.dlp.arch import Arch, Dram, Memories, MatrixUnit, VectorUnit
from aics.dlp.isa import (
    Bcast, Cast, Conv, DType, EltOp, Eltwise, Instr, Loc, Lut, MatMul, Move, Pool, PoolMode, Reduce, ReduceOp,
    Requant, Rescale, Rounding, Space, Sync, Unary, UnaryOp,
)
from aics.dlp.program import Program, TensorDesc
from aics.errors import DataError, SimulationError
from aics.numerics import quantize_multiplier, requantize

D, S, N, W = Space.DRAM, Space.SRAM, Space.NRAM, Space.WRAM
ARCH = Arch(name="unit", cores=2, matrix=MatrixUnit(kind="ideal", macs_per_cycle={"int8": 256, "fp32": 64}),
            vector=VectorUnit(lanes=16), dram=Dram(bandwidth_gbps=16.0, latency_cycles=10),
            memory=Memories(nram_kib=64, wram_kib=64, sram_kib=64, sram_bandwidth_gbps=32.0))
RNG = np.random.default_rng(7)
MODES = pytest.mark.parametrize("mode", ["functional", "both"])


def run_one(instr: Instr, out: tuple[int, tuple[int, ...], DType], nram: Sequence[tuple[int, np.ndarray]] = (),
            wram: Sequence[tuple[int, np.ndarray]] = (), mode: Any = "both") -> np.ndarray:
    dram, code = bytearray(), []
    for space, items in ((N, nram), (W, wram)):
        for addr, array in items:
            data = np.ascontiguousarray(array).tobytes()
            code.append(Move(src=Loc(D, len(dram)), dst=Loc(space, addr), shape=(1, 1, len(data))))
            dram += data
    code.append(instr)
    addr, shape, dtype = out
    nbytes, y = math.prod(shape) * dtype.size, len(dram)
    code.append(Move(src=Loc(N, addr), dst=Loc(D, y), shape=(1, 1, nbytes)))
    program = Program(code=(tuple(code),), dram=bytes(dram), dram_size=y + nbytes,
                      outputs=(TensorDesc("y", y, shape, dtype),))
    result = sim.run(program, ARCH, mode=mode)
    assert (result.timing is not None) == (mode == "both")
    return result.outputs["y"]


def i8(*shape: int) -> np.ndarray:
    return RNG.integers(-128, 128, shape).astype(np.int8)


@MODES
@pytest.mark.parametrize("accumulate", [False, True])
def test_matmul_int8_with_offset(mode: str, accumulate: bool) -> None:
    a, b, c0 = i8(5, 33), i8(33, 7), RNG.integers(-2**31, 2**31, (5, 7)).astype(np.int32)
    instr = MatMul(m=5, k=33, n=7, a=0, b=0, c=0x400, dtype=DType.INT8, a_offset=-9, accumulate=accumulate)
    got = run_one(instr, (0x400, (5, 7), DType.INT32), nram=[(0, a), (0x400, c0)], wram=[(0, b)], mode=mode)
    expected = (a.astype(np.int64) + 9) @ b.astype(np.int64) + (c0 if accumulate else 0)
    np.testing.assert_array_equal(got, ((expected + 2**31) % 2**32 - 2**31).astype(np.int32))


@MODES
def test_matmul_float(mode: str) -> None:
    a, b = RNG.standard_normal((4, 8)).astype(np.float32), RNG.standard_normal((8, 3)).astype(np.float32)
    got = run_one(MatMul(m=4, k=8, n=3, a=0, b=0, c=256, dtype=DType.FP32), (256, (4, 3), DType.FP32),
                  nram=[(0, a)], wram=[(0, b)], mode=mode)
    np.testing.assert_allclose(got, a @ b, rtol=1e-6)
    h = a.astype(np.float16)
    got16 = run_one(MatMul(m=4, k=8, n=3, a=0, b=0, c=256, dtype=DType.FP16), (256, (4, 3), DType.FP32),
                    nram=[(0, h)], wram=[(0, b.astype(np.float16))], mode=mode)
    np.testing.assert_allclose(got16, h.astype(np.float32) @ b.astype(np.float16).astype(np.float32), rtol=1e-6)


def conv_reference(x: np.ndarray, w: np.ndarray, stride, dilation, pad, groups: int, a_offset: int) -> np.ndarray:
    """Shift-and-add over kernel taps (a different algorithm from the im2col kernel)."""
    c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x.astype(np.int64) - a_offset, ((0, 0), (pad[0], pad[1]), (pad[2], pad[3])))
    ho = (h + pad[0] + pad[1] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + pad[2] + pad[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((o, ho, wo), dtype=np.int64)
    og = o // groups
    for i in range(kh):
        for j in range(kw):
            taps = xp[:, i * dilation[0]::stride[0], j * dilation[1]::stride[1]][:, :ho, :wo]
            for g in range(groups):
                out[g * og:(g + 1) * og] += np.einsum("oc,chw->ohw", w[g * og:(g + 1) * og, :, i, j].astype(np.int64),
                                                      taps[g * cg:(g + 1) * cg])
    return out


@MODES
@pytest.mark.parametrize("groups, stride, dilation, pad", [
    (1, (1, 1), (1, 1), (1, 1, 1, 1)), (2, (2, 1), (1, 2), (0, 2, 1, 0)), (6, (2, 2), (1, 1), (1, 0, 0, 1))])
def test_conv_int8(mode: str, groups: int, stride, dilation, pad) -> None:
    x, w = i8(6, 9, 8), i8(12, 6 // groups, 3, 3)
    instr = Conv(c=6, h=9, w=8, o=12, kernel=(3, 3), inp=0, wgt=0, out=0x1000, dtype=DType.INT8, stride=stride,
                 dilation=dilation, pad=pad, groups=groups, a_offset=5)
    got = run_one(instr, (0x1000, (12, instr.ho, instr.wo), DType.INT32), nram=[(0, x)], wram=[(0, w)], mode=mode)
    np.testing.assert_array_equal(got, conv_reference(x, w, stride, dilation, pad, groups, 5))


@MODES
@pytest.mark.parametrize("op", list(EltOp))
@pytest.mark.parametrize("bcast", list(Bcast))
def test_eltwise_int16_broadcast(mode: str, op: EltOp, bcast: Bcast) -> None:
    a = RNG.integers(-3000, 3000, (3, 5)).astype(np.int16)
    b = RNG.integers(-3000, 3000, {Bcast.NONE: (3, 5), Bcast.ROW: (3, 1), Bcast.COL: (1, 5)}[bcast]).astype(np.int16)
    instr = Eltwise(op=op, dtype=DType.INT16, rows=3, cols=5, a=0, b=64, out=128, bcast=bcast)
    got = run_one(instr, (128, (3, 5), DType.INT16), nram=[(0, a), (64, b)], mode=mode)
    fn = {EltOp.ADD: np.add, EltOp.SUB: np.subtract, EltOp.MUL: np.multiply, EltOp.MAX: np.maximum,
          EltOp.MIN: np.minimum}[op]
    np.testing.assert_array_equal(got, np.clip(fn(a.astype(np.int64), b.astype(np.int64)), -32768, 32767))


@MODES
@pytest.mark.parametrize("channel", [Bcast.ROW, Bcast.COL, Bcast.NONE])
def test_requant_per_channel(mode: str, channel: Bcast) -> None:
    acc = RNG.integers(-200000, 200000, (4, 6)).astype(np.int32)
    chans = {Bcast.ROW: 4, Bcast.COL: 6, Bcast.NONE: 1}[channel]
    pairs = [quantize_multiplier(s) for s in RNG.uniform(1e-4, 2e-3, chans)]
    bias = RNG.integers(-1000, 1000, chans).astype(np.int32)
    mult = np.array([p[0] for p in pairs], dtype=np.int32)
    shift = np.array([p[1] for p in pairs], dtype=np.int32)
    instr = Requant(rows=4, cols=6, src=0, bias=0x100, mult=0x200, shift=0x300, dst=0x400, dtype=DType.INT8,
                    channel=channel, out_zp=-4, qmin=-4, qmax=127)  # ReLU fused: clamp at the zero point
    got = run_one(instr, (0x400, (4, 6), DType.INT8), nram=[(0, acc), (0x100, bias), (0x200, mult), (0x300, shift)],
                  mode=mode)
    shape = (4, 1) if channel == Bcast.ROW else (1, chans)
    expected = requantize(acc, mult.reshape(shape), shift.reshape(shape), -4, bias.reshape(shape), -4, 127, "int8")
    np.testing.assert_array_equal(got, expected)
    assert got.min() >= -4


@MODES
def test_lut_sigmoid_table(mode: str) -> None:
    table = np.clip(np.round(255 / (1 + np.exp(-(np.arange(256) - 128) / 16))) - 128, -128, 127).astype(np.int8)
    x = i8(40)
    got = run_one(Lut(n=40, dtype=DType.INT8, src=0, table=64, dst=512), (512, (40,), DType.INT8),
                  nram=[(0, x), (64, table)], mode=mode)
    np.testing.assert_array_equal(got, table[x.astype(np.int64) + 128])


@MODES
def test_rescale_tflite_add_input(mode: str) -> None:
    x = i8(20)
    mult, shift = quantize_multiplier(0.37)
    instr = Rescale(n=20, src=0, dst=64, in_dtype=DType.INT8, dtype=DType.INT32, in_zp=3, left_shift=20,
                    mult=mult, shift=shift)
    got = run_one(instr, (64, (20,), DType.INT32), nram=[(0, x)], mode=mode)
    np.testing.assert_allclose(got, (x.astype(np.int64) - 3) * 2**20 * 0.37, atol=1.0)


@MODES
def test_cast_quantize_and_dequantize(mode: str) -> None:
    x = np.array([0.0, 0.25, -0.75, 10.0, -100.0, 0.125], dtype=np.float32)
    q = run_one(Cast(n=6, src=0, dst=64, in_dtype=DType.FP32, dtype=DType.INT8, scale=0.25, zp=2,
                     rounding=Rounding.HALF_AWAY), (64, (6,), DType.INT8), nram=[(0, x)], mode=mode)
    assert q.tolist() == [2, 3, -1, 42, -128, 3]
    back = run_one(Cast(n=6, src=0, dst=64, in_dtype=DType.INT8, dtype=DType.FP32, scale=0.25, zp=2),
                   (64, (6,), DType.FP32), nram=[(0, q)], mode=mode)
    assert back.tolist() == [0.0, 0.25, -0.75, 10.0, -32.5, 0.25]


@MODES
@pytest.mark.parametrize("mode_", [PoolMode.MAX, PoolMode.AVG])
def test_pool_int8(mode: str, mode_: PoolMode) -> None:
    x = i8(2, 4, 4)
    got = run_one(Pool(mode=mode_, dtype=DType.INT8, c=2, h=4, w=4, kernel=(2, 2), stride=(2, 2), src=0, dst=64),
                  (64, (2, 2, 2), DType.INT8), nram=[(0, x)], mode=mode)
    windows = x.astype(np.int64).reshape(2, 2, 2, 2, 2).transpose(0, 1, 3, 2, 4).reshape(2, 2, 2, 4)
    if mode_ == PoolMode.MAX:
        expected = windows.max(-1)
    else:
        s = windows.sum(-1)
        expected = np.sign(s) * ((np.abs(s) + 2) // 4)
    np.testing.assert_array_equal(got, expected)


@MODES
def test_reduce_and_unary(mode: str) -> None:
    x = i8(3, 7)
    sums = run_one(Reduce(op=ReduceOp.SUM, dtype=DType.INT8, rows=3, cols=7, axis=1, src=0, dst=64),
                   (64, (3,), DType.INT32), nram=[(0, x)], mode=mode)
    np.testing.assert_array_equal(sums, x.astype(np.int64).sum(1))
    v = RNG.uniform(-3, 3, 9).astype(np.float32)
    got = run_one(Unary(op=UnaryOp.EXP, dtype=DType.FP32, n=9, src=0, dst=64), (64, (9,), DType.FP32),
                  nram=[(0, v)], mode=mode)
    np.testing.assert_array_equal(got, np.exp(v))


def test_strided_3d_move_and_overlapping_copy() -> None:
    image = np.arange(4096, dtype=np.uint8) % 251
    # A (2, 3, 4) block: rows of 4 bytes, y stride 10, z stride 100, from DRAM 7 to NRAM 0 (contiguous).
    load = Move(src=Loc(D, 7), dst=Loc(N, 0), shape=(2, 3, 4), src_strides=(100, 10))
    shift = Move(src=Loc(N, 0), dst=Loc(N, 4), shape=(1, 1, 24))  # overlapping: behaves like memmove
    store = Move(src=Loc(N, 0), dst=Loc(D, 2048), shape=(1, 1, 28))
    program = Program(code=((load, shift, store),), dram=image.tobytes(),
                      outputs=(TensorDesc("y", 2048, (28,), DType.INT8),))
    got = sim.run(program, ARCH).outputs["y"].view(np.uint8)
    block = np.array([image[7 + z * 100 + y * 10:7 + z * 100 + y * 10 + 4] for z in range(2) for y in range(3)]).ravel()
    assert got.tolist() == [*block[:4], *block]


def test_cores_communicate_through_sram_across_a_sync() -> None:
    data = np.arange(64, dtype=np.uint8)
    core0 = (Move(src=Loc(D, 0), dst=Loc(S, 0x80), shape=(1, 1, 64)), Sync())
    core1 = (Sync(), Move(src=Loc(S, 0x80), dst=Loc(N, 0), shape=(1, 1, 64)),
             Move(src=Loc(N, 0), dst=Loc(D, 64), shape=(1, 1, 64)))
    program = Program(code=(core0, core1), dram=data.tobytes(), dram_size=128,
                      outputs=(TensorDesc("y", 64, (64,), DType.INT8),))
    assert sim.run(program, ARCH).outputs["y"].view(np.uint8).tolist() == data.tolist()


def test_out_of_range_address_names_instruction_mnemonic_and_core() -> None:
    bad = MatMul(m=64, k=64, n=64, a=0, b=0, c=0xF000, dtype=DType.INT8)  # C overflows the 64 KiB NRAM
    program = Program(code=((Sync(), Sync()), (Sync(), bad, Sync())))
    for mode in ("functional", "timing"):
        with pytest.raises(SimulationError, match=r"core 1, instruction 1 \(matmul\).*NRAM"):
            sim.run(program, ARCH, mode=mode)


def test_inputs_are_checked() -> None:
    program = Program(code=((),), inputs=(TensorDesc("x", 0, (2, 3), DType.INT8),))
    sim.run(program, ARCH, {"x": np.zeros((2, 3), dtype=np.int64)})
    for inputs, message in (({}, "missing input 'x'"), ({"x": np.zeros((3, 2))}, "expected shape 2x3"),
                            ({"x": np.full((2, 3), 300)}, "int8 integers"), ({"x": np.zeros((2, 3)), "z": 1},
                                                                             "unknown input 'z'")):
        with pytest.raises(DataError, match=message):
            sim.run(program, ARCH, inputs)
    floats = Program(code=((),), inputs=(TensorDesc("x", 0, (2,), DType.FP32),))
    with pytest.raises(DataError, match="NaN"):
        sim.run(floats, ARCH, {"x": np.array([1.0, np.nan])})


def test_textbook_instructions_change_no_data() -> None:
    program = Program(code=((Move.textbook(D, N, 64), Move(src=Loc(N, 0), dst=Loc(D, 0), shape=(1, 1, 4))),),
                      dram=b"\x01\x02\x03\x04", outputs=(TensorDesc("y", 0, (4,), DType.INT8),))
    assert sim.run(program, ARCH, mode="functional").outputs["y"].tolist() == [0, 0, 0, 0]
