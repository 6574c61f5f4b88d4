"""The instruction dataclasses: validation, units, memory ranges, work."""

from __future__ import annotations

import pytest

from aics.dlp.isa import (
    INSTRUCTIONS, Bcast, Cast, Compute, ComputeType, Conv, DType, EltOp, Eltwise, Loc, Loop, Lut, MatMul,
    Move, Pool, PoolMode, Reduce, ReduceOp, Requant, Rescale, Space, Sync, Unary, UnaryOp, Unit,
)

D, S, N, W = Space.DRAM, Space.SRAM, Space.NRAM, Space.WRAM


def test_every_opcode_and_mnemonic_is_unique_and_documented() -> None:
    assert len({c.OPCODE for c in INSTRUCTIONS}) == len(INSTRUCTIONS)
    assert len({c.MNEMONIC for c in INSTRUCTIONS}) == len(INSTRUCTIONS)
    assert all(c.__doc__ and len(c.__doc__) > 40 for c in INSTRUCTIONS)


def test_move_units_ranges_and_strides() -> None:
    load = Move(src=Loc(D, 0x100), dst=Loc(N, 0), shape=(2, 4, 64), src_strides=(4096, 256))
    assert load.unit == Unit.LOAD and load.nbytes == 512
    assert load.dst_strides == (256, 64)  # contiguous by default
    assert load.reads() == ((D, 0x100, 0x100 + 4096 + 3 * 256 + 64),)  # the bounding range
    assert load.writes() == ((N, 0, 512),)
    store = Move(src=Loc(N, 0), dst=Loc(D, 0), shape=(1, 1, 8))
    assert store.unit == Unit.STORE
    assert Move(src=Loc(N, 0), dst=Loc(S, 0), shape=(1, 1, 8)).unit == Unit.LOAD
    textbook = Move.textbook(D, W, 1024)
    assert textbook.address_free and textbook.reads() == () and textbook.writes() == ()
    assert textbook.work().nbytes == 1024 and textbook.work().dst == W


def test_move_needs_both_addresses_or_neither() -> None:
    with pytest.raises(ValueError, match="both addresses"):
        Move(src=Loc(D, 0), dst=Loc(N), shape=(1, 1, 4))


def test_matmul_ranges_and_work() -> None:
    mm = MatMul(m=4, k=8, n=16, a=0, b=64, c=1024, dtype=DType.INT8, a_offset=-3, accumulate=True)
    assert mm.unit == Unit.MATRIX
    assert mm.reads() == ((N, 0, 32), (W, 64, 64 + 128), (N, 1024, 1024 + 256))
    assert mm.writes() == ((N, 1024, 1024 + 256),)
    assert mm.work().gemms == ((4, 8, 16),) and mm.work().macs == 512 and mm.work().mac_dtype == "int8"
    with pytest.raises(ValueError, match="a_offset"):
        MatMul(m=1, k=1, n=1, a=0, b=0, c=0, dtype=DType.FP32, a_offset=1)
    with pytest.raises(ValueError, match="dtype"):
        MatMul(m=1, k=1, n=1, a=0, b=0, c=0, dtype=DType.INT32)


def test_conv_shapes_and_gemms_per_group() -> None:
    conv = Conv(c=4, h=8, w=8, o=6, kernel=(3, 3), inp=0, wgt=0, out=256, dtype=DType.INT8, stride=(2, 2),
                pad=(1, 1, 1, 1), groups=2)
    assert (conv.ho, conv.wo) == (4, 4)
    assert conv.work().gemms == ((16, 18, 3), (16, 18, 3))
    assert conv.work().macs == 2 * 16 * 18 * 3
    assert conv.writes() == ((N, 256, 256 + 6 * 16 * 4),)
    with pytest.raises(ValueError, match="groups"):
        Conv(c=3, h=4, w=4, o=4, kernel=(1, 1), inp=0, wgt=0, out=0, dtype=DType.INT8, groups=2)
    with pytest.raises(ValueError, match="larger"):
        Conv(c=1, h=2, w=2, o=1, kernel=(3, 3), inp=0, wgt=0, out=0, dtype=DType.INT8)


def test_vector_ops_ranges_and_work_keys() -> None:
    add = Eltwise(op=EltOp.ADD, dtype=DType.INT8, rows=2, cols=8, a=0, b=100, out=200, bcast=Bcast.COL)
    assert add.reads() == ((N, 0, 16), (N, 100, 108)) and add.work().vector_op == "ADD_8"
    rq = Requant(rows=3, cols=4, src=0, bias=64, mult=128, shift=192, dst=256, dtype=DType.INT8, channel=Bcast.ROW)
    assert rq.reads()[1:] == ((N, 64, 76), (N, 128, 140), (N, 192, 204)) and rq.writes() == ((N, 256, 268),)
    assert Lut(n=10, dtype=DType.INT8, src=0, table=16, dst=300).reads()[1] == (N, 16, 272)
    pool = Pool(mode=PoolMode.MAX, dtype=DType.INT8, c=2, h=4, w=4, kernel=(2, 2), stride=(2, 2), src=0, dst=64)
    assert pool.work().vector_elems == 2 * 2 * 2 * 4 and pool.writes() == ((N, 64, 72),)
    red = Reduce(op=ReduceOp.SUM, dtype=DType.INT8, rows=3, cols=5, axis=1, src=0, dst=32)
    assert red.out_dtype == DType.INT32 and red.writes() == ((N, 32, 44),)
    assert Unary(op=UnaryOp.EXP, dtype=DType.FP32, n=4, src=0, dst=16).work().vector_op == "EXP_32"
    with pytest.raises(ValueError):
        Unary(op=UnaryOp.EXP, dtype=DType.INT8, n=4, src=0, dst=16)
    with pytest.raises(ValueError, match="qmin"):
        Rescale(n=1, src=0, dst=0, in_dtype=DType.INT8, dtype=DType.INT8, mult=1, qmin=5, qmax=4)
    with pytest.raises(ValueError, match="float32"):
        Cast(n=1, src=0, dst=0, in_dtype=DType.FP32, dtype=DType.INT8, scale=0.1)  # not a float32 value


def test_textbook_compute_units() -> None:
    assert Compute(type=ComputeType.MAC_32, num=5).unit == Unit.MATRIX
    assert Compute(type=ComputeType.DIV_16, num=5).unit == Unit.VECTOR
    assert Compute(type=ComputeType.MAC_16, num=5).work().mac_dtype == "fp16"
    assert Loop(n=3).unit == Sync().unit == Unit.CONTROL


def test_fields_are_range_checked() -> None:
    with pytest.raises(ValueError, match="u32"):
        MatMul(m=-1, k=1, n=1, a=0, b=0, c=0, dtype=DType.INT8)
    with pytest.raises(ValueError, match="tag"):
        Sync(tag=70000)
    with pytest.raises(ValueError, match="DType"):
        Lut(n=1, dtype=3, src=0, table=0, dst=0)  # type: ignore[arg-type]
