"""Text assembly of DLP programs: the full form, the textbook form, and the disassembler.

One instruction per line; ``;`` or ``#`` starts a comment; mnemonics, keys and names of spaces,
dtypes and ops are case-insensitive.

Full form: the mnemonic, then ``key=value`` for each field of the instruction's dataclass
(``aics.dlp.isa``); fields with defaults may be left out. Values: integers in decimal or ``0x``
hex, locations ``SPACE:ADDR`` (``DRAM:0x100``), shapes ``ZxYxX``, tuples ``a,b``, enums by name::

    move src=DRAM:0x100 dst=NRAM:0x0 shape=1x4x64 src_strides=1024,256
    matmul m=4 k=64 n=16 a=0x0 b=0x0 c=0x1000 dtype=int8 a_offset=-3 accumulate=1 tag=2

Textbook form (exercises 7.7-7.12; no addresses, timing only)::

    move SRC DST SIZE      ; DRAM, NRAM, WRAM, SRAM; SIZE bytes
    compute TYPE NUM       ; MAC_32, MAC_16, ADD_32, ..., DIV_16
    loop N ... endloop     ; nestable
    sync

``core K`` starts the code of core K (lines before any ``core`` line belong to core 0).
Directives: ``.layer TAG NAME`` names a tag; ``.input``/``.output NAME addr=A shape=AxB
dtype=D [scale=S] [zero_point=Z]`` describe I/O tensors in DRAM. Errors are ``AsmError``
``FILE:LINE:COL: message``.
"""

from __future__ import annotations

import os
import re
from dataclasses import MISSING, fields
from typing import Any

import numpy as np

from aics.dlp.arch import Arch
from aics.dlp.isa import BY_MNEMONIC, ComputeType, DType, EndLoop, Instr, Loc, Loop, Move, Space
from aics.dlp.isa.base import INT_KINDS
from aics.dlp.program import Program, TensorDesc, arch_fingerprint
from aics.dlp.textbook import TEXTBOOK_FORMS, Token, format_textbook, parse_int
from aics.errors import AsmError

_TOKEN = re.compile(r"\S+")
_MAX_CORES = 2**16
_TUPLES = {"dims": (3, "x", "u32"), "strides": (2, ",", "u32"), "pair": (2, ",", "u16"), "quad": (4, ",", "u16")}


def assemble(text: str, file: str = "<input>", arch: Arch | None = None) -> Program:
    """Assemble program text; ``arch`` bounds the core ids and is recorded in the program."""
    return _Assembler(file, arch).run(text)


def assemble_file(path: str | os.PathLike[str], arch: Arch | None = None) -> Program:
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as src:
            text = src.read()
    except (OSError, UnicodeDecodeError) as err:
        raise AsmError(f"cannot read: {err}", name, 0, 0) from None
    return assemble(text, name, arch)


def parse_instr(line: str, file: str = "<input>", lineno: int = 1) -> Instr:
    """One instruction from one line of text (no directives, no ``core``)."""
    tokens = _tokens(line)
    if not tokens:
        raise AsmError("empty line", file, lineno, 1)
    return _instr(tokens, file, lineno, len(line))


def format_instr(instr: Instr) -> str:
    """The text of one instruction: textbook form where it has one, else full form."""
    textbook = format_textbook(instr)
    if textbook is not None:
        return textbook
    parts = [instr.MNEMONIC]
    for f in (*fields(instr)[1:], fields(instr)[0]):  # the tag (first field) goes last
        value = getattr(instr, f.name)
        if f.default is not MISSING and value == f.default:
            continue
        if isinstance(instr, Move) and f.name.endswith("_strides") and value == _contiguous(instr):
            continue
        parts.append(f"{f.name}={_format_value(value, f.metadata)}")
    return " ".join(parts)


def disassemble(program: Program) -> str:
    lines = [f"; arch: {program.arch_name or '(any)'}"]
    if program.arch_fingerprint:
        lines.append(f"; arch fingerprint: {program.arch_fingerprint}")
    if program.dram:
        lines.append(f"; DRAM image: {len(program.dram)} bytes of {program.dram_size}")
    for name, (addr, nbytes) in sorted(program.symbols.items(), key=lambda kv: kv[1]):
        lines.append(f"; symbol {name}: DRAM:0x{addr:x} ({nbytes} bytes)")
    lines += [f".layer {tag} {name}" for tag, name in sorted(program.layers.items())]
    for kind, descs in (("input", program.inputs), ("output", program.outputs)):
        lines += [f".{kind} {_format_desc(d)}" for d in descs]
    for core, instrs in enumerate(program.code):
        if program.cores > 1:
            lines.append(f"core {core}")
        depth = 0
        for instr in instrs:
            depth -= isinstance(instr, EndLoop)
            lines.append("    " * (depth + (program.cores > 1)) + format_instr(instr))
            depth += isinstance(instr, Loop)
    return "\n".join(lines) + "\n"


class _Assembler:
    def __init__(self, file: str, arch: Arch | None) -> None:
        self.file, self.arch = file, arch
        self.code: dict[int, list[Instr]] = {0: []}
        self.open_loops: list[tuple[int, int]] = []  # (line, col) of each open loop
        self.core = 0
        self.layers: dict[int, str] = {}
        self.io: dict[str, list[TensorDesc]] = {"input": [], "output": []}

    def error(self, message: str, line: int, col: int) -> AsmError:
        return AsmError(message, self.file, line, col)

    def run(self, text: str) -> Program:
        for lineno, raw in enumerate(text.splitlines(), start=1):
            line = re.split(r"[;#]", raw, maxsplit=1)[0]
            tokens = _tokens(line)
            if tokens:
                self.line(tokens, lineno, len(line))
        self.close_core()
        cores = max(self.code) + 1
        code = tuple(tuple(self.code.get(k, ())) for k in range(cores))
        descs = self.io["input"] + self.io["output"]
        dram_size = max([d.addr + d.nbytes for d in descs] + [_dram_extent(i) for c in code for i in c] + [0])
        return Program(
            code=code, arch_name=self.arch.name if self.arch else "",
            arch_fingerprint=arch_fingerprint(self.arch) if self.arch else "", dram_size=dram_size,
            inputs=tuple(self.io["input"]), outputs=tuple(self.io["output"]), layers=self.layers)

    def line(self, tokens: list[Token], lineno: int, length: int) -> None:
        head = tokens[0].text.lower()
        if head == "core":
            self.switch_core(tokens, lineno, length)
        elif head == ".layer":
            self.layer(tokens, lineno, length)
        elif head in (".input", ".output"):
            self.io[head[1:]].append(self.desc(tokens, lineno, length))
        else:
            instr = _instr(tokens, self.file, lineno, length)
            if isinstance(instr, Loop):
                self.open_loops.append((lineno, tokens[0].col))
            elif isinstance(instr, EndLoop):
                if not self.open_loops:
                    raise self.error("unbalanced loop: endloop without loop", lineno, tokens[0].col)
                self.open_loops.pop()
            self.code[self.core].append(instr)

    def close_core(self) -> None:
        if self.open_loops:
            line, col = self.open_loops[-1]
            raise self.error("unbalanced loop: loop without endloop", line, col)

    def switch_core(self, tokens: list[Token], lineno: int, length: int) -> None:
        _arity(tokens, 1, ("K",), self.file, lineno, length)
        core = _int_operand(tokens[1], "core id", self.file, lineno)
        limit = self.arch.cores if self.arch else _MAX_CORES
        if core >= limit:
            where = f"the arch {self.arch.name} has {limit} core(s), 0..{limit - 1}" if self.arch else \
                f"core ids stop at {limit - 1}"
            raise self.error(f"core {core} is beyond the arch: {where}", lineno, tokens[1].col)
        self.close_core()
        self.core = core
        self.code.setdefault(core, [])

    def layer(self, tokens: list[Token], lineno: int, length: int) -> None:
        _arity(tokens, 2, ("TAG", "NAME"), self.file, lineno, length)
        tag = _int_operand(tokens[1], "layer tag", self.file, lineno)
        if not 1 <= tag < 2**16:
            raise self.error(f"layer tag must be in 1..65535, got {tag}", lineno, tokens[1].col)
        self.layers[tag] = tokens[2].text

    def desc(self, tokens: list[Token], lineno: int, length: int) -> TensorDesc:
        if len(tokens) < 2 or "=" in tokens[1].text:
            raise self.error(f"{tokens[0].text}: missing operand NAME", lineno, length + 1)
        values: dict[str, Any] = {}
        kinds = {"addr": {"kind": "u64"}, "shape": {"kind": "shape"}, "dtype": {"kind": "enum", "enum": DType},
                 "scale": {"kind": "f64"}, "zero_point": {"kind": "i32"}}
        for tok in tokens[2:]:
            key, value = _keyword(tok, self.file, lineno)
            if key not in kinds or key in values:
                raise self.error(f"unknown or repeated key '{key}'", lineno, tok.col)
            values[key] = _value(value, kinds[key], key, self.file, lineno, tok.col + len(key) + 1)
        for key in ("addr", "shape", "dtype"):
            if key not in values:
                raise self.error(f"{tokens[0].text}: missing operand {key}", lineno, length + 1)
        return TensorDesc(name=tokens[1].text, **values)


def _instr(tokens: list[Token], file: str, lineno: int, length: int) -> Instr:
    head = tokens[0]
    cls = BY_MNEMONIC.get(head.text.lower())
    if cls is None:
        raise AsmError(f"unknown mnemonic '{head.text}'", file, lineno, head.col)
    operands = tokens[1:]
    positional = [t for t in operands if "=" not in t.text]
    if positional and cls.MNEMONIC in TEXTBOOK_FORMS:
        kwargs = TEXTBOOK_FORMS[cls.MNEMONIC](positional, file, lineno, length)
        keyword = [t for t in operands if "=" in t.text]
        if keyword and operands.index(keyword[0]) < operands.index(positional[-1]):
            raise AsmError("positional operand after key=value", file, lineno, positional[-1].col)
        allowed = {"tag"}
    elif positional:
        raise AsmError(f"unexpected operand '{positional[0].text}' ({cls.MNEMONIC} takes key=value operands)",
                       file, lineno, positional[0].col)
    else:
        kwargs, keyword, allowed = {}, operands, {f.name for f in fields(cls)}
    by_name = {f.name: f for f in fields(cls)}
    for tok in keyword:
        key, value = _keyword(tok, file, lineno)
        if key not in allowed:
            raise AsmError(f"{cls.MNEMONIC} has no operand '{key}'", file, lineno, tok.col)
        if key in kwargs:
            raise AsmError(f"operand '{key}' given twice", file, lineno, tok.col)
        kwargs[key] = _value(value, by_name[key].metadata, key, file, lineno, tok.col + len(key) + 1)
    for f in fields(cls):
        if f.default is MISSING and f.name not in kwargs:
            raise AsmError(f"{cls.MNEMONIC}: missing operand '{f.name}'", file, lineno, length + 1)
    try:
        return cls(**kwargs)
    except ValueError as err:
        raise AsmError(str(err), file, lineno, head.col) from None


def _keyword(tok: Token, file: str, lineno: int) -> tuple[str, str]:
    key, _, value = tok.text.partition("=")
    if not key or not value:
        raise AsmError(f"expected key=value, got '{tok.text}'", file, lineno, tok.col)
    return key.lower(), value


def _value(text: str, meta: Any, key: str, file: str, lineno: int, col: int) -> Any:
    try:
        return _parse_value(text, meta)
    except ValueError as err:
        raise AsmError(f"{key}: {err}", file, lineno, col) from None


def _parse_value(text: str, meta: Any) -> Any:
    kind = meta["kind"]
    if kind == "bool" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if kind in INT_KINDS:
        value = _int_in(text, kind)
        return bool(value) if kind == "bool" else value
    if kind == "enum":
        enum = meta["enum"]
        if text.upper() not in enum.__members__:
            raise ValueError(f"unknown value '{text}' (expected one of {', '.join(_enum_text(m) for m in enum)})")
        return enum[text.upper()]
    if kind in ("f32", "f64"):
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got '{text}'") from None
        if kind == "f64":
            return number
        with np.errstate(over="ignore"):
            single = float(np.float32(number))  # the nearest float32: the field's precision
        if abs(single) == float("inf") and abs(number) != float("inf"):
            raise ValueError(f"{text} is out of the float32 range")
        return single
    if kind == "loc":
        space, sep, addr = text.partition(":")
        if space.upper() not in Space.__members__:
            raise ValueError(f"bad ram type '{space}' (expected DRAM, SRAM, NRAM or WRAM)")
        return Loc(Space[space.upper()], _int_in(addr, "u64", address=True) if sep else None)
    if kind == "shape":
        return tuple(_int_in(part, "u32") for part in text.lower().split("x"))
    count, sep, item = _TUPLES[kind]
    parts = text.lower().split(sep)
    if len(parts) != count:
        raise ValueError(f"expected {count} values separated by '{sep}', got '{text}'")
    return tuple(_int_in(part, item) for part in parts)


def _int_in(text: str, kind: str, address: bool = False) -> int:
    value = parse_int(text)
    if value is None:
        raise ValueError(f"expected an integer, got '{text}'")
    lo, hi = INT_KINDS[kind]
    if address:
        hi -= 1  # all ones marks "no address" in the binary
    if not lo <= value <= hi:
        raise ValueError(f"{value} is out of range [{lo}, {hi}]")
    return value


def _format_value(value: Any, meta: Any) -> str:
    kind = meta["kind"]
    if kind == "bool":
        return "1" if value else "0"
    if kind == "enum":
        return _enum_text(value)
    if kind == "f32":
        return repr(value)
    if kind == "loc":
        return value.space.name if value.addr is None else f"{value.space.name}:0x{value.addr:x}"
    if kind in _TUPLES:
        return _TUPLES[kind][1].join(map(str, value))
    return f"0x{value:x}" if meta.get("addr") else str(value)


def _enum_text(member: Any) -> str:
    return member.name if isinstance(member, (ComputeType, Space)) else member.name.lower()


def _int_operand(tok: Token, what: str, file: str, lineno: int) -> int:
    value = parse_int(tok.text)
    if value is None or value < 0:
        raise AsmError(f"{what} must be a non-negative integer, got '{tok.text}'", file, lineno, tok.col)
    return value


def _arity(tokens: list[Token], count: int, names: tuple[str, ...], file: str, lineno: int, length: int) -> None:
    if len(tokens) - 1 < count:
        raise AsmError(f"{tokens[0].text}: missing operand {names[len(tokens) - 1]}", file, lineno, length + 1)
    if len(tokens) - 1 > count:
        extra = tokens[count + 1]
        raise AsmError(f"unexpected operand '{extra.text}'", file, lineno, extra.col)


def _tokens(line: str) -> list[Token]:
    return [Token(m.group(), m.start() + 1) for m in _TOKEN.finditer(line)]


def _contiguous(move: Move) -> tuple[int, int]:
    _, y, x = move.shape
    return (y * x, x)


def _dram_extent(instr: Instr) -> int:
    ends = [end for space, _, end in (*instr.reads(), *instr.writes()) if space == Space.DRAM]
    return max(ends, default=0)


def _format_desc(d: TensorDesc) -> str:
    text = f"{d.name} addr=0x{d.addr:x} shape={'x'.join(map(str, d.shape))} dtype={d.dtype.text}"
    if d.scale != 1.0:
        text += f" scale={d.scale!r}"
    return text + (f" zero_point={d.zero_point}" if d.zero_point else "")

