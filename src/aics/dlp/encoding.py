"""Binary encoding of instructions: an opcode byte, then the fields in declaration order.

Each opcode has a fixed length. Fields are little-endian ``struct`` values by kind: ``u8/u16/
u32/u64/i8/i32`` as such, ``bool`` and enums one byte, ``f32`` an IEEE single, ``loc`` a space
byte plus a u64 address (all ones = no address), ``dims``/``strides`` u32 triples/pairs,
``pair``/``quad`` u16 pairs/quads. ``decode(encode(i)) == i`` for every valid instruction; bytes
that decode to no valid instruction raise ``ProgramFormatError``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any, Callable, Iterable

from aics.dlp.isa import BY_OPCODE, INSTRUCTIONS, Instr, Loc, Space
from aics.errors import ProgramFormatError

_NO_ADDR = 2**64 - 1
_FORMATS = {
    "u8": "B", "u16": "H", "u32": "I", "u64": "Q", "i8": "b", "i32": "i", "bool": "B", "f32": "f",
    "enum": "B", "loc": "BQ", "dims": "3I", "strides": "2I", "pair": "2H", "quad": "4H",
}
_WIDTH = {"loc": 2, "dims": 3, "strides": 2, "pair": 2, "quad": 4}


@dataclass(frozen=True)
class _Layout:
    cls: type[Instr]
    packer: struct.Struct
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    enums: tuple[type[IntEnum] | None, ...]


def _layout(cls: type[Instr]) -> _Layout:
    fs = fields(cls)
    fmt = "<B" + "".join(_FORMATS[f.metadata["kind"]] for f in fs)
    return _Layout(cls, struct.Struct(fmt), tuple(f.name for f in fs),
                   tuple(f.metadata["kind"] for f in fs), tuple(f.metadata.get("enum") for f in fs))


_LAYOUTS: dict[type[Instr], _Layout] = {cls: _layout(cls) for cls in INSTRUCTIONS}
_BY_OPCODE: dict[int, _Layout] = {op: _LAYOUTS[cls] for op, cls in BY_OPCODE.items()}


def size_of(cls: type[Instr]) -> int:
    """Encoded length in bytes of an instruction of ``cls``."""
    return _LAYOUTS[cls].packer.size


def encode(instr: Instr) -> bytes:
    layout = _LAYOUTS[type(instr)]
    raw: list[Any] = [instr.OPCODE]
    for name, kind in zip(layout.names, layout.kinds):
        value = getattr(instr, name)
        if kind == "loc":
            raw += [int(value.space), _NO_ADDR if value.addr is None else value.addr]
        elif kind in _WIDTH:
            raw += value
        else:
            raw.append(value if kind == "f32" else int(value))
    return layout.packer.pack(*raw)


def encode_all(instrs: Iterable[Instr]) -> bytes:
    return b"".join(encode(i) for i in instrs)


def decode(buf: bytes, pos: int = 0) -> tuple[Instr, int]:
    """The instruction at ``buf[pos:]`` and the position after it."""
    if pos >= len(buf):
        raise ProgramFormatError(f"instruction at byte {pos}: truncated (no opcode)")
    layout = _BY_OPCODE.get(buf[pos])
    if layout is None:
        raise ProgramFormatError(f"instruction at byte {pos}: unknown opcode 0x{buf[pos]:02x}")
    end = pos + layout.packer.size
    if end > len(buf):
        raise ProgramFormatError(f"instruction at byte {pos}: truncated {layout.cls.MNEMONIC}")
    raw = layout.packer.unpack_from(buf, pos)
    kwargs: dict[str, Any] = {}
    at = 1
    try:
        for name, kind, enum in zip(layout.names, layout.kinds, layout.enums):
            width = _WIDTH.get(kind, 1)
            chunk = raw[at:at + width]
            at += width
            kwargs[name] = _CONVERT.get(kind, _plain)(chunk, enum)
        return layout.cls(**kwargs), end
    except ValueError as err:
        raise ProgramFormatError(f"instruction at byte {pos}: invalid {layout.cls.MNEMONIC}: {err}") from None


def decode_all(buf: bytes) -> list[Instr]:
    out, pos = [], 0
    while pos < len(buf):
        instr, pos = decode(buf, pos)
        out.append(instr)
    return out


def _plain(chunk: tuple[Any, ...], enum: Any) -> Any:
    return chunk[0]


def _bool(chunk: tuple[Any, ...], enum: Any) -> bool:
    if chunk[0] > 1:
        raise ValueError(f"boolean byte {chunk[0]}")
    return bool(chunk[0])


def _enum(chunk: tuple[Any, ...], enum: Any) -> IntEnum:
    return enum(chunk[0])  # ValueError for an unknown member


def _loc(chunk: tuple[Any, ...], enum: Any) -> Loc:
    return Loc(Space(chunk[0]), None if chunk[1] == _NO_ADDR else chunk[1])


def _tuple(chunk: tuple[Any, ...], enum: Any) -> tuple[int, ...]:
    return tuple(chunk)


_CONVERT: dict[str, Callable[[tuple[Any, ...], Any], Any]] = {
    "bool": _bool, "enum": _enum, "loc": _loc, "dims": _tuple, "strides": _tuple, "pair": _tuple,
    "quad": _tuple,
}
