"""``EncodedCode``: a core's code kept encoded behaves as the decoded tuple, groups instructions by
shape correctly (hash collisions included), and refuses exactly what ``decode_all`` refuses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aics.dlp import encoding
from aics.dlp.encoding import EncodedCode, address_fields, decode_all, encode, encode_all, positions
from aics.dlp.isa import DType, EndLoop, HostCall, Instr, Loc, Loop, MatMul, Move, Space, Sync
from aics.errors import ProgramFormatError

from .test_encoding import instructions

D, N, W = Space.DRAM, Space.NRAM, Space.WRAM
CODE = (
    Move(src=Loc(D, 0), dst=Loc(N, 0), shape=(1, 4, 16), tag=1),
    MatMul(m=4, k=16, n=8, a=0, b=0, c=64, dtype=DType.INT8, a_offset=-1, tag=1),
    Move(src=Loc(D, 4096), dst=Loc(N, 64), shape=(1, 4, 16), tag=2),  # the first one's shape
    Loop(n=3), Move.textbook(D, W, 512), EndLoop(),  # a textbook move: a shape of its own
    MatMul(m=4, k=16, n=8, a=64, b=0, c=128, dtype=DType.INT8, a_offset=-1, tag=2),
    MatMul(m=4, k=16, n=8, a=64, b=0, c=128, dtype=DType.INT16, a_offset=-1, tag=2),
    Sync(), HostCall(op=0, cycles=7),
)


def test_behaves_as_the_decoded_tuple() -> None:
    code = EncodedCode(encode_all(CODE))
    assert len(code) == len(CODE)
    assert tuple(code) == CODE and code == CODE and code == list(CODE)
    assert [code[i] for i in range(-len(CODE), len(CODE))] == [*CODE, *CODE]
    assert code[2:5] == CODE[2:5]
    assert encode_all(code) == encode_all(CODE)
    assert code != CODE[:-1] and code != EncodedCode(encode_all(CODE[:-1]))
    with pytest.raises(IndexError):
        code[len(CODE)]
    assert positions(code, (Loop, EndLoop)) == positions(CODE, (Loop, EndLoop)) == [3, 5]
    assert positions(code, (Sync, HostCall)) == [8, 9]


def test_shapes_group_instructions_and_read_their_addresses() -> None:
    shapes = EncodedCode(encode_all(CODE)).shapes
    assert list(shapes) == [Move, MatMul, Loop, EndLoop, Sync, HostCall]  # first appearance
    moves = shapes[Move]
    assert moves.rows.tolist() == [0, 2, 4]
    assert moves.shape.tolist() == [0, 0, 1]
    assert moves.examples == (CODE[0], CODE[4])
    assert moves.values.tolist() == [[1, 0, 0], [2, 4096, 64], [0, 0, 0]]  # tag, src, dst (none: 0)
    matmuls = shapes[MatMul]
    assert matmuls.shape.tolist() == [0, 0, 1]  # the int16 one differs in a non-address field
    assert matmuls.values.tolist() == [[1, 0, 0, 64], [2, 64, 0, 128], [2, 64, 0, 128]]
    assert [name for name, _ in address_fields(MatMul)] == ["a", "b", "c"]


def test_a_hash_collision_falls_back_to_comparing_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    want = EncodedCode(encode_all(CODE)).shapes
    monkeypatch.setattr(encoding, "_HASH_WORDS", np.zeros(encoding._WORDS, dtype=np.uint64))  # all hash to 0
    got = EncodedCode(encode_all(CODE)).shapes
    for cls, shapes in want.items():
        assert got[cls].shape.tolist() == shapes.shape.tolist() and got[cls].examples == shapes.examples


@settings(max_examples=200)
@given(st.lists(instructions(), max_size=12))
def test_shapes_agree_with_the_instructions(instrs: list[Instr]) -> None:
    shapes = EncodedCode(encode_all(instrs)).shapes
    assert sorted(r for s in shapes.values() for r in s.rows.tolist()) == list(range(len(instrs)))
    for cls, group in shapes.items():
        for row, shape, values in zip(group.rows.tolist(), group.shape.tolist(), group.values.tolist()):
            instr, example = instrs[row], group.examples[shape]
            assert type(instr) is cls and values[0] == instr.tag
            for (name, loc), value in zip(address_fields(cls), values[1:]):
                addr = getattr(instr, name).addr if loc else getattr(instr, name)
                assert value == (0 if addr is None else addr)
                if loc:
                    assert (getattr(example, name).addr is None) == (addr is None)
            same = [f for f in instr.__dataclass_fields__ if f != "tag" and f not in dict(address_fields(cls))]
            assert all(getattr(instr, f) == getattr(example, f) for f in same)


def test_refuses_what_decode_all_refuses_with_the_same_message() -> None:
    good = encode_all(CODE)
    matmul = encode(CODE[1])
    bad_dtype = matmul[:-6] + b"\x07" + matmul[-5:]  # not a DType (then a_offset i32, accumulate bool)
    assert decode_all(matmul[:-6] + b"\x01" + matmul[-5:])[0].dtype == DType.INT16  # that byte is the dtype
    for data in (good + b"\xee", good[:-1], good + bad_dtype, bad_dtype + good, bad_dtype + b"\xee"):
        with pytest.raises(ProgramFormatError) as want:
            decode_all(data)
        with pytest.raises(ProgramFormatError) as got:
            EncodedCode(data)
        assert str(got.value) == str(want.value)


def test_empty_code() -> None:
    code = EncodedCode(b"")
    assert len(code) == 0 and tuple(code) == () and code.shapes == {}
