"""The DLP executable: code per core, a DRAM image, I/O descriptors and metadata, in one file.

File layout (little-endian)::

    magic      8 bytes   b"AICSDLP\\0"
    version    u16       FORMAT_VERSION
    reserved   u16       0
    body_len   u64
    checksum   32 bytes  sha256 of the body
    body       sections: kind u8, length u64, payload
                 META (1)  JSON: arch name and fingerprint, DRAM size, symbols, I/O tensors, layers
                 CODE (2)  u16 core id, then the encoded instructions of that core
                 DRAM (3)  the initial DRAM image (bytes from address 0)
                 HOST (4)  JSON: the host-op table (ops the host CPU runs at ``host`` instructions)

``load_program`` refuses anything else with a ``ProgramFormatError`` that names the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any, Sequence

from aics.dlp.arch import Arch
from aics.dlp.encoding import EncodedCode, encode_all, positions
from aics.dlp.isa import DType, EndLoop, HostCall, Instr, Loop
from aics.errors import ProgramFormatError

MAGIC = b"AICSDLP\0"
FORMAT_VERSION = 2  # 2: the HOST section
_HEADER = struct.Struct("<8sHHQ32s")
_SECTION = struct.Struct("<BQ")
_META, _CODE, _DRAM, _HOST = 1, 2, 3, 4


@dataclass(frozen=True)
class TensorDesc:
    """A tensor in DRAM: row-major ``shape`` of ``dtype`` at ``addr``, real = scale * (q - zero_point)."""

    name: str
    addr: int
    shape: tuple[int, ...]
    dtype: DType
    scale: float = 1.0
    zero_point: int = 0

    @property
    def nbytes(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count * self.dtype.size


@dataclass(frozen=True)
class HostOp:
    """An op the host CPU runs at a ``host`` instruction: it reads ``inputs`` from DRAM, computes
    ``payload`` and writes ``outputs``. The payload is opaque to the DLP (the compiler puts the op's
    IR there and the runtime that executes it knows how to read it)."""

    name: str
    payload: str
    inputs: tuple[TensorDesc, ...]
    outputs: tuple[TensorDesc, ...]


@dataclass(frozen=True)
class Program:
    """Instructions per core (``code[k]`` runs on core k) plus everything needed to run them."""

    code: tuple[Sequence[Instr], ...]  # per core: a tuple, or ``EncodedCode`` when loaded from a file
    arch_name: str = ""
    arch_fingerprint: str = ""  # empty: runs on any arch
    dram: bytes = b""
    dram_size: int = 0  # DRAM bytes addressable; at least the image and the I/O tensors
    symbols: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (addr, nbytes)
    inputs: tuple[TensorDesc, ...] = ()
    outputs: tuple[TensorDesc, ...] = ()
    layers: dict[int, str] = field(default_factory=dict)  # tag -> layer name
    host_ops: tuple[HostOp, ...] = ()  # indexed by ``HostCall.op``

    def __post_init__(self) -> None:
        tensors = [d.addr + d.nbytes for d in (*self.inputs, *self.outputs)]
        object.__setattr__(self, "dram_size", max(self.dram_size, len(self.dram), *tensors))
        for core, instrs in enumerate(self.code):
            problem = loop_problem(instrs)
            if problem:
                raise ProgramFormatError(f"core {core}: {problem}")
            for index in positions(instrs, (HostCall,)):
                instr = instrs[index]
                if instr.op >= len(self.host_ops):  # type: ignore[attr-defined]
                    raise ProgramFormatError(f"core {core}, instruction {index}: host op {instr.op} is not in "
                                             f"the program's host-op table ({len(self.host_ops)} ops)")

    @property
    def cores(self) -> int:
        return len(self.code)

    def layer_name(self, tag: int) -> str:
        return self.layers.get(tag, f"tag{tag}") if tag else ""


def loop_problem(instrs: Sequence[Instr]) -> str | None:
    """Why the loops of one core's code are unbalanced, or None."""
    depth = 0
    for index in positions(instrs, (Loop, EndLoop)):
        if isinstance(instrs[index], Loop):
            depth += 1
        else:
            depth -= 1
            if depth < 0:
                return f"instruction {index}: endloop without loop"
    return f"{depth} loop(s) without endloop" if depth else None


def arch_fingerprint(arch: Arch) -> str:
    """The fingerprint a program stores to refuse running on another machine."""
    from aics.dlp.arch_io import fingerprint

    return fingerprint(arch)


def dump_program(program: Program) -> bytes:
    meta = {
        "arch_name": program.arch_name,
        "arch_fingerprint": program.arch_fingerprint,
        "dram_size": program.dram_size,
        "symbols": {name: list(v) for name, v in program.symbols.items()},
        "inputs": [_desc_json(d) for d in program.inputs],
        "outputs": [_desc_json(d) for d in program.outputs],
        "layers": {str(tag): name for tag, name in program.layers.items()},
    }
    sections = [_section(_META, json.dumps(meta, sort_keys=True).encode("utf-8"))]
    for core, instrs in enumerate(program.code):
        sections.append(_section(_CODE, struct.pack("<H", core) + encode_all(instrs)))
    if program.dram:
        sections.append(_section(_DRAM, program.dram))
    if program.host_ops:
        ops = [{"name": op.name, "payload": op.payload, "inputs": [_desc_json(d) for d in op.inputs],
                "outputs": [_desc_json(d) for d in op.outputs]} for op in program.host_ops]
        sections.append(_section(_HOST, json.dumps(ops, sort_keys=True).encode("utf-8")))
    body = b"".join(sections)
    return _HEADER.pack(MAGIC, FORMAT_VERSION, 0, len(body), hashlib.sha256(body).digest()) + body


def save_program(program: Program, path: str | os.PathLike[str]) -> None:
    """Write atomically: a reader never sees half a file."""
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "wb") as out:
        out.write(dump_program(program))
    os.replace(tmp, path)


def load_program(path: str | os.PathLike[str]) -> Program:
    try:
        with open(path, "rb") as src:
            data = src.read()
    except OSError as err:
        raise ProgramFormatError(f"{os.fspath(path)}: cannot read: {err.strerror}") from None
    try:
        return loads_program(data)
    except ProgramFormatError as err:
        raise ProgramFormatError(f"{os.fspath(path)}: {err}") from None


def loads_program(data: bytes) -> Program:
    """Parse a program file's bytes; every defect is a ``ProgramFormatError``."""
    if len(data) < _HEADER.size:
        if not MAGIC.startswith(data[:8]):
            raise ProgramFormatError("not an aics DLP program (bad magic)")
        raise ProgramFormatError(f"truncated header ({len(data)} of {_HEADER.size} bytes)")
    magic, version, reserved, body_len, digest = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ProgramFormatError("not an aics DLP program (bad magic)")
    if version != FORMAT_VERSION:
        raise ProgramFormatError(f"format version {version}, this aics reads version {FORMAT_VERSION}")
    if reserved:
        raise ProgramFormatError(f"corrupt header: reserved field is {reserved}, not 0")
    body = memoryview(data)[_HEADER.size:]  # sections are parsed without copying the body
    if len(body) < body_len:
        raise ProgramFormatError(f"truncated: body has {len(body)} of {body_len} bytes")
    if len(body) > body_len:
        raise ProgramFormatError(f"{len(body) - body_len} trailing bytes after the body")
    if hashlib.sha256(body).digest() != digest:
        raise ProgramFormatError("corrupt: checksum mismatch")
    return _parse_body(body)


def _parse_body(body: memoryview) -> Program:
    meta: dict[str, Any] | None = None
    code: dict[int, EncodedCode] = {}
    dram = b""
    host: tuple[HostOp, ...] | None = None
    pos = 0
    while pos < len(body):
        if pos + _SECTION.size > len(body):
            raise ProgramFormatError(f"truncated section header at body byte {pos}")
        kind, length = _SECTION.unpack_from(body, pos)
        start, pos = pos + _SECTION.size, pos + _SECTION.size + length
        if pos > len(body):
            raise ProgramFormatError(f"section at body byte {start - _SECTION.size} runs past the end")
        payload = body[start:pos]
        if kind == _META and meta is None:
            meta = _parse_meta(bytes(payload))
        elif kind == _CODE:
            if len(payload) < 2:
                raise ProgramFormatError("code section without a core id")
            core = struct.unpack_from("<H", payload)[0]
            if core in code:
                raise ProgramFormatError(f"two code sections for core {core}")
            code[core] = EncodedCode(payload[2:])
        elif kind == _DRAM and not dram:
            dram = bytes(payload)
        elif kind == _HOST and host is None:
            host = _parse_host(bytes(payload))
        else:
            raise ProgramFormatError(f"unexpected section kind {kind} at body byte {start - _SECTION.size}")
    if meta is None:
        raise ProgramFormatError("missing metadata section")
    if sorted(code) != list(range(len(code))):
        raise ProgramFormatError(f"code sections for cores {sorted(code)}, expected 0..{len(code) - 1}")
    return Program(code=tuple(code[k] for k in range(len(code))), dram=dram, host_ops=host or (), **meta)


def _section(kind: int, payload: bytes) -> bytes:
    return _SECTION.pack(kind, len(payload)) + payload


def _desc_json(d: TensorDesc) -> dict[str, Any]:
    return {"name": d.name, "addr": d.addr, "shape": list(d.shape), "dtype": d.dtype.text,
            "scale": d.scale, "zero_point": d.zero_point}


def _parse_meta(payload: bytes) -> dict[str, Any]:
    try:
        meta = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ProgramFormatError(f"metadata is not JSON: {err}") from None
    expected = {"arch_name": str, "arch_fingerprint": str, "dram_size": int, "symbols": dict,
                "inputs": list, "outputs": list, "layers": dict}
    if not isinstance(meta, dict) or set(meta) != set(expected):
        raise ProgramFormatError(f"metadata must have exactly the keys {sorted(expected)}")
    for key, kind in expected.items():
        if not isinstance(meta[key], kind) or isinstance(meta[key], bool):
            raise ProgramFormatError(f"metadata {key}: expected {kind.__name__}")
    try:
        symbols = {str(k): (_uint(v[0]), _uint(v[1])) for k, v in meta["symbols"].items()
                   if len(v) == 2}
        if len(symbols) != len(meta["symbols"]):
            raise ValueError("a symbol is not [addr, nbytes]")
        layers = {_uint(int(k)): _str(v) for k, v in meta["layers"].items()}
        inputs = tuple(_parse_desc(d) for d in meta["inputs"])
        outputs = tuple(_parse_desc(d) for d in meta["outputs"])
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as err:
        raise ProgramFormatError(f"bad metadata: {err}") from None
    return {"arch_name": meta["arch_name"], "arch_fingerprint": meta["arch_fingerprint"],
            "dram_size": _uint(meta["dram_size"]), "symbols": symbols, "inputs": inputs,
            "outputs": outputs, "layers": layers}


def _parse_host(payload: bytes) -> tuple[HostOp, ...]:
    try:
        ops = json.loads(payload.decode("utf-8"))
        if not isinstance(ops, list):
            raise ValueError("not a list")
        return tuple(HostOp(_str(op["name"]), _str(op["payload"]), tuple(_parse_desc(d) for d in op["inputs"]),
                            tuple(_parse_desc(d) for d in op["outputs"])) for op in ops)
    except (UnicodeDecodeError, ValueError, TypeError, KeyError) as err:
        raise ProgramFormatError(f"bad host-op table: {err}") from None


def _parse_desc(d: Any) -> TensorDesc:
    if not isinstance(d, dict) or set(d) != {"name", "addr", "shape", "dtype", "scale", "zero_point"}:
        raise ValueError("a tensor descriptor needs name, addr, shape, dtype, scale, zero_point")
    scale = d["scale"]
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise ValueError("tensor scale must be a number")
    if not isinstance(d["shape"], list):
        raise ValueError("tensor shape must be a list")
    return TensorDesc(name=_str(d["name"]), addr=_uint(d["addr"]), shape=tuple(_uint(s) for s in d["shape"]),
                      dtype=DType[_str(d["dtype"]).upper()], scale=float(scale),
                      zero_point=_int(d["zero_point"]))


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"expected an integer, got {v!r}")
    return v


def _uint(v: Any) -> int:
    if _int(v) < 0:
        raise ValueError(f"expected a non-negative integer, got {v}")
    return v


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"expected a string, got {v!r}")
    return v
