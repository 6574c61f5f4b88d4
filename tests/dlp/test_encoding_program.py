"""The program container: round trip, and refusal of truncated, corrupt, foreign or old files."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aics.dlp.isa import Compute, ComputeType, DType, EndLoop, Loc, Loop, MatMul, Move, Space, Sync
from aics.dlp.program import (
    FORMAT_VERSION, MAGIC, Program, TensorDesc, dump_program, load_program, loads_program, save_program,
)
from aics.errors import ProgramFormatError

PROGRAM = Program(
    code=(
        (Move(src=Loc(Space.DRAM, 0), dst=Loc(Space.NRAM, 0), shape=(1, 4, 16), tag=1),
         MatMul(m=4, k=16, n=8, a=0, b=0, c=64, dtype=DType.INT8, a_offset=-1, tag=1),
         Loop(n=3), Compute(type=ComputeType.MAC_32, num=99), EndLoop(), Sync()),
        (Move.textbook(Space.DRAM, Space.WRAM, 512), Sync()),
    ),
    arch_name="test", arch_fingerprint="abc123", dram=bytes(range(256)) * 3, dram_size=4096,
    symbols={"w": (0, 128), "x": (128, 64)},
    inputs=(TensorDesc("x", 128, (1, 64), DType.INT8, 0.5, -3),),
    outputs=(TensorDesc("y", 1024, (4, 8), DType.INT32),),
    layers={1: "fc1"},
)


def test_round_trip_in_memory_and_on_disk(tmp_path: Path) -> None:
    assert loads_program(dump_program(PROGRAM)) == PROGRAM
    path = tmp_path / "p.dlp"
    save_program(PROGRAM, path)
    assert load_program(path) == PROGRAM
    assert not list(tmp_path.glob("*.tmp"))


def _refused(data: bytes) -> str:
    with pytest.raises(ProgramFormatError) as info:
        loads_program(data)
    return str(info.value)


def test_refusals_name_the_reason() -> None:
    data = dump_program(PROGRAM)
    assert "truncated" in _refused(data[:-10])
    assert "truncated header" in _refused(data[:20])
    assert "bad magic" in _refused(b"PK\x03\x04" + data[4:])
    assert "bad magic" in _refused(b"hello")
    old = data[:8] + struct.pack("<H", FORMAT_VERSION + 1) + data[10:]
    assert f"format version {FORMAT_VERSION + 1}" in _refused(old)
    flipped = bytearray(data)
    flipped[-5] ^= 0xFF
    assert "checksum" in _refused(bytes(flipped))
    assert "trailing" in _refused(data + b"\0")


def test_load_program_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.dlp"
    path.write_bytes(dump_program(PROGRAM)[:40])
    with pytest.raises(ProgramFormatError, match="broken.dlp: truncated"):
        load_program(path)
    with pytest.raises(ProgramFormatError, match="cannot read"):
        load_program(tmp_path / "missing.dlp")


def _with_body(body: bytes) -> bytes:
    return struct.pack("<8sHHQ32s", MAGIC, FORMAT_VERSION, 0, len(body), hashlib.sha256(body).digest()) + body


def test_checksummed_but_malformed_bodies_are_refused() -> None:
    meta = b'{"arch_name": "", "arch_fingerprint": "", "dram_size": 0, "symbols": {}, "inputs": [], ' \
           b'"outputs": [], "layers": {}}'
    section = lambda kind, payload: struct.pack("<BQ", kind, len(payload)) + payload  # noqa: E731
    assert "missing metadata" in _refused(_with_body(b""))
    assert "not JSON" in _refused(_with_body(section(1, b"{")))
    assert "exactly the keys" in _refused(_with_body(section(1, b"{}")))
    assert "cores [1]" in _refused(_with_body(section(1, meta) + section(2, b"\x01\x00")))
    assert "endloop" in _refused(_with_body(section(1, meta) + section(2, b"\x00\x00" + bytes([0x41, 0, 0]))))
    assert "runs past" in _refused(_with_body(section(1, meta) + struct.pack("<BQ", 3, 99)))


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_random_bytes_only_raise_program_format_error(data: bytes) -> None:
    with pytest.raises(ProgramFormatError):
        loads_program(data)


@settings(max_examples=300)
@given(st.data())
def test_truncations_and_corruptions_only_raise_program_format_error(data: st.DataObject) -> None:
    blob = bytearray(dump_program(PROGRAM))
    cut = data.draw(st.integers(0, len(blob) - 1))
    with pytest.raises(ProgramFormatError):
        loads_program(bytes(blob[:cut]))
    pos = data.draw(st.integers(0, len(blob) - 1))
    blob[pos] ^= data.draw(st.integers(1, 255))
    with pytest.raises(ProgramFormatError):
        loads_program(bytes(blob))


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_random_bodies_with_valid_checksums_only_raise_program_format_error(body: bytes) -> None:
    try:
        loads_program(_with_body(body))
    except ProgramFormatError:
        pass


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12)
_KEYS = ("arch_name", "arch_fingerprint", "dram_size", "symbols", "inputs", "outputs", "layers")


@settings(max_examples=400)
@given(st.dictionaries(st.sampled_from(_KEYS), _JSON, min_size=6), st.sampled_from(_KEYS), _JSON)
def test_random_metadata_only_raises_program_format_error(meta: dict, key: str, value: object) -> None:
    import json

    meta[key] = value
    section = json.dumps(meta).encode("utf-8")
    try:
        loads_program(_with_body(struct.pack("<BQ", 1, len(section)) + section))
    except ProgramFormatError:
        pass
