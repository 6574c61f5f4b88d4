"""Binary and text encodings of instructions round-trip; garbage bytes never crash the decoder."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from aics.dlp.asm import format_instr, parse_instr
from aics.dlp.encoding import decode, decode_all, encode, size_of
from aics.dlp.isa import INSTRUCTIONS, Instr, Loc, Move, Space
from aics.dlp.isa.base import INT_KINDS
from aics.errors import ProgramFormatError


def _int(lo: int, hi: int) -> st.SearchStrategy[int]:
    # Mostly small values (so dimension rules hold often), sometimes anything in range.
    return st.one_of(st.integers(max(lo, 0), min(hi, max(lo, 0) + 6)), st.integers(lo, hi))


def _field(kind: str, meta: Any, address_free: bool) -> st.SearchStrategy[Any]:
    if kind == "bool":
        return st.booleans()
    if kind in INT_KINDS:
        return _int(*INT_KINDS[kind])
    if kind == "enum":
        return st.sampled_from(list(meta["enum"]))
    if kind == "f32":
        return st.floats(width=32, allow_nan=False)
    if kind == "loc":
        addr = st.none() if address_free else _int(0, 2**64 - 2)
        return st.builds(Loc, st.sampled_from(list(Space)), addr)
    size, hi = {"dims": (3, 2**32 - 1), "strides": (2, 2**32 - 1), "pair": (2, 2**16 - 1), "quad": (4, 2**16 - 1)}[kind]
    return st.tuples(*[_int(0, hi)] * size)


@st.composite
def instructions(draw: st.DrawFn) -> Instr:
    cls = draw(st.sampled_from(INSTRUCTIONS))
    address_free = draw(st.booleans()) if cls is Move else False
    kwargs = {f.name: draw(_field(f.metadata["kind"], f.metadata, address_free)) for f in fields(cls)}
    try:
        return cls(**kwargs)
    except ValueError:
        assume(False)
        raise


@settings(max_examples=600)
@given(instructions())
def test_binary_round_trip(instr: Instr) -> None:
    data = encode(instr)
    assert len(data) == size_of(type(instr))
    assert decode(data) == (instr, len(data))


@settings(max_examples=600)
@given(instructions())
def test_text_round_trip(instr: Instr) -> None:
    text = format_instr(instr)
    assert "\n" not in text
    assert parse_instr(text) == instr


@given(st.lists(instructions(), max_size=8))
def test_streams_round_trip(instrs: list[Instr]) -> None:
    assert decode_all(b"".join(encode(i) for i in instrs)) == instrs


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_garbage_bytes_decode_or_raise_program_format_error(data: bytes) -> None:
    try:
        decode_all(data)
    except ProgramFormatError:
        pass


def test_decode_names_the_problem() -> None:
    good = encode(Move.textbook(Space.DRAM, Space.NRAM, 64))
    for data, reason in ((b"\xee", "unknown opcode"), (good[:-1], "truncated move"),
                         (good[:1] + b"\x00\x00" + b"\x09" + good[4:], "invalid move")):
        try:
            decode_all(data)
        except ProgramFormatError as err:
            assert reason in str(err)
        else:
            raise AssertionError(f"no error for {data!r}")
