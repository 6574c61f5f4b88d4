"""The textbook form of the assembly (exercises 7.7-7.12): positional operands, no addresses.

``move SRC DST SIZE``, ``compute TYPE NUM``, ``loop N``, ``endloop``, ``sync``; ram types and
compute types are case-insensitive; SIZE, NUM and N are non-negative decimal (or ``0x``) integers.
A ``tag=N`` may follow. ``asm`` calls these parsers when an instruction has positional operands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from aics.dlp.isa import Compute, ComputeType, EndLoop, Instr, Loc, Loop, Move, Space, Sync
from aics.errors import AsmError

_INT = re.compile(r"[+-]?(0[xX][0-9a-fA-F]+|[0-9]+)")


@dataclass(frozen=True)
class Token:
    text: str
    col: int  # 1-based column in the source line


def parse_int(text: str) -> int | None:
    """A decimal or ``0x`` hex integer (ASCII digits only), or None."""
    if not _INT.fullmatch(text):
        return None
    return int(text, 16 if text.lstrip("+-")[:2].lower() == "0x" else 10)


def format_textbook(instr: Instr) -> str | None:
    """The textbook spelling of ``instr``, or None when it has none."""
    tag = f" tag={instr.tag}" if instr.tag else ""
    contiguous = isinstance(instr, Move) and instr.src_strides == instr.dst_strides == (instr.shape[2],) * 2
    if isinstance(instr, Move) and instr.address_free and instr.shape[:2] == (1, 1) and contiguous:
        return f"move {instr.src.space.name} {instr.dst.space.name} {instr.shape[2]}{tag}"
    if isinstance(instr, Compute):
        return f"compute {instr.type.name} {instr.num}{tag}"
    if isinstance(instr, Loop):
        return f"loop {instr.n}{tag}"
    if type(instr) in (EndLoop, Sync):  # not HostCall, a Sync with operands
        return instr.MNEMONIC + tag
    return None


Parser = Callable[[list[Token], str, int, int], dict[str, Any]]


def _move(ops: list[Token], file: str, line: int, length: int) -> dict[str, Any]:
    _count(ops, ("SRC", "DST", "SIZE"), "move", file, line, length)
    src, dst = (_space(t, file, line) for t in ops[:2])
    size = _uint(ops[2], "size", 2**32 - 1, file, line)
    return {"src": Loc(src), "dst": Loc(dst), "shape": (1, 1, size)}


def _compute(ops: list[Token], file: str, line: int, length: int) -> dict[str, Any]:
    _count(ops, ("TYPE", "NUM"), "compute", file, line, length)
    name = ops[0].text.upper()
    if name not in ComputeType.__members__:
        choices = ", ".join(ComputeType.__members__)
        raise AsmError(f"unknown compute type '{ops[0].text}' (expected one of {choices})", file, line, ops[0].col)
    return {"type": ComputeType[name], "num": _uint(ops[1], "num", 2**64 - 1, file, line)}


def _loop(ops: list[Token], file: str, line: int, length: int) -> dict[str, Any]:
    _count(ops, ("N",), "loop", file, line, length)
    return {"n": _uint(ops[0], "loop count", 2**32 - 1, file, line)}


def _bare(mnemonic: str) -> Parser:
    def parse(ops: list[Token], file: str, line: int, length: int) -> dict[str, Any]:
        _count(ops, (), mnemonic, file, line, length)
        return {}
    return parse


TEXTBOOK_FORMS: dict[str, Parser] = {
    "move": _move, "compute": _compute, "loop": _loop, "endloop": _bare("endloop"), "sync": _bare("sync"),
}


def _count(ops: list[Token], names: tuple[str, ...], mnemonic: str, file: str, line: int, length: int) -> None:
    if len(ops) < len(names):
        raise AsmError(f"{mnemonic}: missing operand {names[len(ops)]}", file, line, length + 1)
    if len(ops) > len(names):
        raise AsmError(f"{mnemonic}: unexpected operand '{ops[len(names)].text}'", file, line, ops[len(names)].col)


def _space(tok: Token, file: str, line: int) -> Space:
    name = tok.text.upper()
    if name not in Space.__members__:
        raise AsmError(f"bad ram type '{tok.text}' (expected DRAM, SRAM, NRAM or WRAM)", file, line, tok.col)
    return Space[name]


def _uint(tok: Token, what: str, limit: int, file: str, line: int) -> int:
    value = parse_int(tok.text)
    if value is None or value < 0:
        raise AsmError(f"{what} must be a non-negative integer, got '{tok.text}'", file, line, tok.col)
    if value > limit:
        raise AsmError(f"{what} {value} is too large (at most {limit})", file, line, tok.col)
    return value
