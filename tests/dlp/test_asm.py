"""The assembler: textbook and full forms, directives, cores, and errors with FILE:LINE:COL."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aics.dlp.arch import Arch
from aics.dlp.asm import assemble, assemble_file, disassemble, parse_instr
from aics.dlp.isa import Compute, ComputeType, DType, EndLoop, Loc, Loop, MatMul, Move, Space, Sync
from aics.errors import AsmError

FOUR_CORES = Arch(name="four", cores=4)


def test_textbook_form_case_insensitive_with_comments() -> None:
    program = assemble("""
        MOVE dram Nram 1024   ; input
        move DRAM WRAM 0x400  # weights
        Sync
        LOOP 2
          compute mac_32 256
        EndLoop
    """)
    assert program.code == ((
        Move.textbook(Space.DRAM, Space.NRAM, 1024), Move.textbook(Space.DRAM, Space.WRAM, 1024), Sync(),
        Loop(n=2), Compute(type=ComputeType.MAC_32, num=256), EndLoop()),)


def test_cores_and_layers() -> None:
    program = assemble("""
        .layer 7 conv1
        move DRAM NRAM 64 tag=7   ; core 0: before any core line
        core 2
        sync
        core 1
        compute ADD_16 10
    """, arch=FOUR_CORES)
    assert program.cores == 3
    assert program.code[0] == (Move.textbook(Space.DRAM, Space.NRAM, 64, tag=7),)
    assert program.code[1] == (Compute(type=ComputeType.ADD_16, num=10),)
    assert program.code[2] == (Sync(),)
    assert program.layers == {7: "conv1"} and program.arch_name == "four" and program.arch_fingerprint


def test_full_form_and_io_directives() -> None:
    program = assemble("""
        .input x addr=0x0 shape=4x16 dtype=int8 scale=0.5 zero_point=-3
        .output y addr=0x100 shape=4x8 dtype=int32
        move src=DRAM:0x0 dst=NRAM:0x0 shape=1x4x16
        matmul m=4 k=16 n=8 a=0 b=0 c=0x40 dtype=INT8 a_offset=-3
    """)
    assert program.inputs[0].scale == 0.5 and program.inputs[0].zero_point == -3
    assert program.outputs[0].shape == (4, 8) and program.dram_size == 0x100 + 128
    assert program.code[0][1] == MatMul(m=4, k=16, n=8, a=0, b=0, c=64, dtype=DType.INT8, a_offset=-3)
    again = assemble(disassemble(program))
    assert (again.code, again.inputs, again.outputs) == (program.code, program.inputs, program.outputs)


def test_strided_move_prints_only_non_contiguous_strides() -> None:
    move = parse_instr("move src=DRAM:0x10 dst=NRAM:0x0 shape=2x3x8 src_strides=100,20")
    assert move.dst_strides == (24, 8)
    assert str(move.src) == str(Loc(Space.DRAM, 16))


@pytest.mark.parametrize("text, line, col, message", [
    ("nop", 1, 1, "unknown mnemonic 'nop'"),
    ("move DRAM XRAM 4", 1, 11, "bad ram type 'XRAM'"),
    ("\n  move DRAM NRAM 1.5", 2, 18, "size must be a non-negative integer, got '1.5'"),
    ("move DRAM NRAM -4", 1, 16, "non-negative integer"),
    ("move DRAM NRAM", 1, 15, "missing operand SIZE"),
    ("move DRAM NRAM 4 8", 1, 18, "unexpected operand '8'"),
    ("compute MAC_64 4", 1, 9, "unknown compute type 'MAC_64'"),
    ("compute MAC_32", 1, 15, "missing operand NUM"),
    ("loop 2\nsync", 1, 1, "loop without endloop"),
    ("sync\n  endloop", 2, 3, "endloop without loop"),
    ("loop 2\ncore 1\nendloop", 1, 1, "loop without endloop"),
    ("core 4", 1, 6, "core 4 is beyond the arch"),
    ("core x", 1, 6, "core id must be a non-negative integer"),
    ("matmul m=1 k=1", 1, 15, "missing operand 'n'"),
    ("matmul m=1 k=1 n=1 a=0 b=0 c=0 dtype=int64", 1, 38, "unknown value 'int64'"),
    ("matmul m=1 k=1 n=1 a=0 b=0 c=0 dtype=int32", 1, 1, "dtype must be"),
    ("matmul m=1 m=2", 1, 12, "given twice"),
    ("matmul q=1", 1, 8, "no operand 'q'"),
    ("matmul 4", 1, 8, "takes key=value operands"),
    ("sync now", 1, 6, "unexpected operand 'now'"),
    ("move src=DRAM:0 dst=NRAM shape=1x1x4", 1, 1, "both addresses"),
    ("move src=DRAM:0 dst=NRAM:0 shape=1x4", 1, 34, "expected 3 values"),
    ("lut n=4294967296 dtype=int8 src=0 table=0 dst=0", 1, 7, "out of range"),
    (".layer 0 x", 1, 8, "layer tag must be in 1..65535"),
    (".input x addr=0", 1, 16, "missing operand shape"),
])
def test_errors_point_at_file_line_col(text: str, line: int, col: int, message: str) -> None:
    with pytest.raises(AsmError) as info:
        assemble(text, "prog.s", arch=FOUR_CORES)
    assert (info.value.line, info.value.col) == (line, col), str(info.value)
    assert message in str(info.value)
    assert str(info.value).startswith(f"prog.s:{line}:{col}: ")


def test_assemble_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.s"
    path.write_text("sync\nfoo\n")
    with pytest.raises(AsmError, match=r"bad\.s:2:1: unknown mnemonic"):
        assemble_file(path)
    with pytest.raises(AsmError, match="cannot read"):
        assemble_file(tmp_path / "missing.s")


_WORDS = st.sampled_from(["move", "compute", "loop", "endloop", "sync", "core", ".layer", ".input", "matmul",
                          "conv", "DRAM", "NRAM", "WRAM", "SRAM", "MAC_32", "1024", "-1", "0x1f", "m=4",
                          "dtype=int8", "shape=1x1x4", "src=DRAM:0", "dst=NRAM:0x10", "tag=3", "=", ";", "#",
                          "\n", " ", "x", "1.5", "99999999999999999999"])


@settings(max_examples=500)
@given(st.one_of(st.text(max_size=120), st.lists(_WORDS, max_size=30).map(" ".join)))
def test_arbitrary_text_gives_a_program_or_an_asm_error(text: str) -> None:
    try:
        assemble(text, arch=FOUR_CORES)
    except AsmError as err:
        assert str(err).startswith("<input>:")
