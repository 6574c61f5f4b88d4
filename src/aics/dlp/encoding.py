"""Binary encoding of instructions: an opcode byte, then the fields in declaration order.

Each opcode has a fixed length. Fields are little-endian ``struct`` values by kind: ``u8/u16/
u32/u64/i8/i32`` as such, ``bool`` and enums one byte, ``f32`` an IEEE single, ``loc`` a space
byte plus a u64 address (all ones = no address), ``dims``/``strides`` u32 triples/pairs,
``pair``/``quad`` u16 pairs/quads. ``decode(encode(i)) == i`` for every valid instruction; bytes
that decode to no valid instruction raise ``ProgramFormatError``.

``EncodedCode`` keeps a whole core's code in this form and reads what the timing simulator needs
(classes, shapes, addresses) with numpy, decoding only one instruction per distinct shape.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any, Callable, Iterable, Iterator, Sequence, overload

import numpy as np

from aics.compiled import compiled
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
    offsets: tuple[int, ...]  # byte offset of each field in the encoded instruction


def _layout(cls: type[Instr]) -> _Layout:
    fs = fields(cls)
    formats = [_FORMATS[f.metadata["kind"]] for f in fs]
    offsets = np.cumsum([1, *(struct.calcsize("<" + fmt) for fmt in formats)])[:-1].tolist()
    return _Layout(cls, struct.Struct("<B" + "".join(formats)), tuple(f.name for f in fs),
                   tuple(f.metadata["kind"] for f in fs), tuple(f.metadata.get("enum") for f in fs), tuple(offsets))


def address_fields(cls: type[Instr]) -> list[tuple[str, bool]]:
    """The fields of ``cls`` that hold an address, in declaration order, each with whether it is a
    ``Loc`` (space + address) rather than a plain on-chip address."""
    return [(f.name, f.metadata["kind"] == "loc") for f in fields(cls)
            if f.metadata["kind"] == "loc" or f.metadata.get("addr")]


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
    if isinstance(instrs, EncodedCode):
        return instrs.data
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


def positions(code: Sequence[Instr], classes: tuple[type[Instr], ...]) -> list[int]:
    """Indices of the instructions of exactly these ``classes`` in ``code`` (encoded code answers
    from its opcodes, without decoding)."""
    if isinstance(code, EncodedCode):
        return np.flatnonzero(np.isin(code.opcodes, [cls.OPCODE for cls in classes])).tolist()
    wanted = frozenset(classes)
    return np.flatnonzero(np.fromiter(map(wanted.__contains__, map(type, code)), dtype=bool,
                                      count=len(code))).tolist()


@dataclass(frozen=True)
class Shapes:
    """The instructions of one class in an ``EncodedCode``: their indices (``rows``), their shape
    ids (``shape``, dense in order of first appearance), one decoded instruction per shape
    (``examples``), and per row the tag and address fields (``values``; a missing address reads 0)."""

    rows: np.ndarray
    shape: np.ndarray
    examples: tuple[Instr, ...]
    values: np.ndarray  # uint64, (rows, 1 + address fields)


class EncodedCode(Sequence[Instr]):
    """One core's code kept as its encoding; an instruction is decoded when it is asked for.

    Why: a loaded program of a million instructions took ~5 s to decode into objects, while the
    timing simulator needs only each instruction's class, its *shape* (every field but the tag
    and the addresses) and its addresses. Construction checks the framing (known opcodes, no
    truncation) and decodes one instruction per distinct shape: that validates every instruction,
    since the bytes in which instructions of a shape differ (tag, addresses) are valid whatever
    they hold. So a file is refused with the same ``ProgramFormatError`` as by ``decode_all``."""

    def __init__(self, data: bytes | memoryview) -> None:
        self.data = bytes(data)
        raw = np.frombuffer(self.data, dtype=np.uint8)
        count, bad = _frame(raw, _LENGTHS)
        if bad >= 0:  # the first invalid instruction may come before the framing problem
            decode_all(self.data)
        self.offsets = _starts(raw, _LENGTHS, count)
        self.opcodes = raw[self.offsets]
        ops, firsts = np.unique(self.opcodes, return_index=True)
        try:  # classes in order of first appearance, as ``Shapes`` orders shapes
            self.shapes = {_BY_OPCODE[op].cls: self._shapes(raw, _BY_OPCODE[op])
                           for op in ops[np.argsort(firsts)].tolist()}
        except ProgramFormatError:
            decode_all(self.data)  # the error of the first invalid instruction, as when decoding all
            raise

    def __len__(self) -> int:
        return len(self.offsets)

    @overload
    def __getitem__(self, index: int) -> Instr: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Instr, ...]: ...

    def __getitem__(self, index: int | slice) -> Instr | tuple[Instr, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        return decode(self.data, int(self.offsets[index]))[0]

    def __iter__(self) -> Iterator[Instr]:
        pos = 0
        while pos < len(self.data):
            instr, pos = decode(self.data, pos)
            yield instr

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EncodedCode):
            return self.data == other.data
        return isinstance(other, Sequence) and len(other) == len(self) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"EncodedCode({len(self)} instructions, {len(self.data)} bytes)"

    def _shapes(self, raw: np.ndarray, layout: _Layout) -> Shapes:
        rows = np.flatnonzero(self.opcodes == layout.cls.OPCODE)
        size = layout.packer.size
        record = _gather(raw, self.offsets[rows], size)  # (rows, bytes)
        key = np.zeros((len(rows), -(-size // 8) * 8), dtype=np.uint8)
        key[:, :size] = record
        at = layout.offsets[layout.names.index("tag")]
        columns = [_field(record, at, 2)]  # the tag: not part of the shape
        key[:, at:at + 2] = 0
        for name, loc in address_fields(layout.cls):
            at = layout.offsets[layout.names.index(name)] + loc  # a Loc's address follows its space byte
            width = 8 if loc else 4
            value = _field(record, at, width)
            missing = value == _NO_ADDR if loc else np.zeros(len(rows), dtype=bool)
            key[~missing, at:at + width] = 0  # present addresses differ freely; a missing one stays all ones
            columns.append(np.where(missing, 0, value))
        shape, firsts = _group(key.view(np.uint64))
        examples = tuple(decode(self.data, int(self.offsets[rows[f]]))[0] for f in firsts.tolist())
        return Shapes(rows, shape, examples, np.stack(columns, axis=1))


def _field(record: np.ndarray, at: int, width: int) -> np.ndarray:
    """A little-endian unsigned field of every record, as uint64."""
    dtype = {2: "<u2", 4: "<u4", 8: "<u8"}[width]
    return np.ascontiguousarray(record[:, at:at + width]).view(dtype).ravel().astype(np.uint64)


_WORDS = -(-max(layout.packer.size for layout in _LAYOUTS.values()) // 8)  # of the longest instruction
_HASH_WORDS = np.random.default_rng(0x41494353).integers(1, 2**63, size=_WORDS, dtype=np.uint64) | np.uint64(1)


def _group(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense ids of equal rows of ``key`` (uint64 words), in order of first appearance, and each
    id's first row. Rows are hashed to one word to sort fast; equal hashes are then checked to be
    equal rows, and a collision falls back to comparing whole rows."""
    digest = np.zeros(len(key), dtype=np.uint64)
    for column in range(key.shape[1]):  # wrapping arithmetic: a multiplicative hash of the row
        digest += key[:, column] * _HASH_WORDS[column]
    _, firsts, inverse = np.unique(digest, return_index=True, return_inverse=True)
    if not (key == key[firsts[inverse]]).all():
        _, firsts, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(firsts)
    dense = np.empty(len(firsts), dtype=np.int64)
    dense[order] = np.arange(len(firsts))
    return dense[inverse.ravel()], firsts[order]


_LENGTHS = np.zeros(256, dtype=np.int64)  # encoded length by opcode, 0: no such opcode
for _op, _l in _BY_OPCODE.items():
    _LENGTHS[_op] = _l.packer.size


@compiled
def _frame(raw: np.ndarray, lengths: np.ndarray) -> tuple[int, int]:
    """The number of instructions in ``raw``, and the byte position of the first that is unknown or
    truncated (-1: none)."""
    pos, count = 0, 0
    while pos < len(raw):
        size = lengths[raw[pos]]
        if size == 0 or pos + size > len(raw):
            return count, pos
        pos += size
        count += 1
    return count, -1


@compiled
def _gather(raw: np.ndarray, starts: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` bytes at each of ``starts``, one row each."""
    out = np.empty((len(starts), size), dtype=np.uint8)
    for i in range(len(starts)):
        out[i, :] = raw[starts[i]:starts[i] + size]
    return out


@compiled
def _starts(raw: np.ndarray, lengths: np.ndarray, count: int) -> np.ndarray:
    """The byte position of each of the ``count`` instructions of well-framed ``raw``."""
    out = np.empty(count, dtype=np.int64)
    pos = 0
    for i in range(count):
        out[i] = pos
        pos += lengths[raw[pos]]
    return out
