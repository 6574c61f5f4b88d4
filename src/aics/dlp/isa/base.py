"""Enums, operand types, the ``Instr`` base class and its field checks (see ``aics.dlp.isa``)."""


from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from enum import IntEnum
from typing import Any, ClassVar, NamedTuple

import numpy as np


class Space(IntEnum):
    DRAM = 0
    SRAM = 1
    NRAM = 2
    WRAM = 3


class Unit(IntEnum):
    LOAD = 0
    STORE = 1
    MATRIX = 2
    VECTOR = 3
    CONTROL = 4


class DType(IntEnum):
    INT8 = 0
    INT16 = 1
    INT32 = 2
    FP16 = 3
    FP32 = 4

    @property
    def size(self) -> int:
        return (1, 2, 4, 2, 4)[self]

    @property
    def text(self) -> str:
        """The dtype name used by ``aics.numerics`` and the arch file: int8 ... fp32."""
        return self.name.lower()

    @property
    def numpy(self) -> np.dtype[Any]:
        return np.dtype(("<i1", "<i2", "<i4", "<f2", "<f4")[self])

    @property
    def is_float(self) -> bool:
        return self in (DType.FP16, DType.FP32)


class EltOp(IntEnum):
    ADD = 0
    SUB = 1
    MUL = 2
    MAX = 3
    MIN = 4


class Bcast(IntEnum):
    """How a per-channel operand of a (rows, cols) block is indexed: not at all (a full operand,
    or one value for ``requant``), by row, or by column."""

    NONE = 0
    ROW = 1
    COL = 2


class PoolMode(IntEnum):
    MAX = 0
    AVG = 1


class ReduceOp(IntEnum):
    SUM = 0
    MAX = 1


class UnaryOp(IntEnum):
    EXP = 0
    RSQRT = 1
    RECIP = 2


class Rounding(IntEnum):
    HALF_EVEN = 0
    HALF_AWAY = 1


class ComputeType(IntEnum):
    """The operation types of the textbook ``compute TYPE NUM``."""

    MAC_32 = 0
    MAC_16 = 1
    ADD_32 = 2
    ADD_16 = 3
    SUB_32 = 4
    SUB_16 = 5
    MUL_32 = 6
    MUL_16 = 7
    DIV_32 = 8
    DIV_16 = 9


class Loc(NamedTuple):
    """A memory space and a byte address in it; ``addr=None`` in the address-free textbook form."""

    space: Space
    addr: int | None = None


Range = tuple[Space, int, int]  # (space, start, end): a half-open byte range


class Work(NamedTuple):
    """What one instruction asks of its unit, before any arch is known."""

    src: Space | None = None  # a transfer: from, to and how many bytes
    dst: Space | None = None
    nbytes: int = 0
    gemms: tuple[tuple[int, int, int], ...] = ()  # (m, k, n) matrix products, one after another
    macs: int = 0
    mac_dtype: str = ""  # int8, int16, fp16, fp32
    vector_op: str = ""  # the key of arch.vector.ops_per_cycle, e.g. ADD_32, REQUANT
    vector_elems: int = 0


def fld(kind: str, default: Any = MISSING, **extra: Any) -> Any:
    return field(default=default, metadata={"kind": kind, **extra})


def addr_fld() -> Any:
    """An on-chip byte address (written in hex by the assembler)."""
    return fld("u32", addr=True)


def enum_fld(cls: type[IntEnum], default: Any = MISSING) -> Any:
    return fld("enum", default, enum=cls)


INT_KINDS = {
    "u8": (0, 2**8 - 1), "u16": (0, 2**16 - 1), "u32": (0, 2**32 - 1), "u64": (0, 2**64 - 1),
    "i8": (-(2**7), 2**7 - 1), "i32": (-(2**31), 2**31 - 1), "bool": (0, 1),
}


@dataclass(frozen=True, kw_only=True)
class Instr:
    """Base of all instructions (never instantiated itself)."""

    OPCODE: ClassVar[int]
    MNEMONIC: ClassVar[str]
    UNIT: ClassVar[Unit] = Unit.VECTOR
    tag: int = fld("u16", 0)

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_field(f.name, f.metadata["kind"], getattr(self, f.name), f.metadata.get("enum"))
        problem = self._problem()
        if problem:
            raise ValueError(f"{self.MNEMONIC}: {problem}")

    def _problem(self) -> str | None:
        """The first semantic problem of this instruction, or None."""
        return None

    @property
    def unit(self) -> Unit:
        return self.UNIT

    def reads(self) -> tuple[Range, ...]:
        return ()

    def writes(self) -> tuple[Range, ...]:
        return ()

    def work(self) -> Work:
        return Work()


def _check_field(name: str, kind: str, value: Any, enum: type[IntEnum] | None) -> None:
    if kind in INT_KINDS:
        lo, hi = INT_KINDS[kind]
        ok = isinstance(value, bool) if kind == "bool" else (
            isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi)
        if not ok:
            raise ValueError(f"field {name}: expected {kind}, got {value!r}")
    elif kind == "enum":
        if not isinstance(value, enum):  # type: ignore[arg-type]
            raise ValueError(f"field {name}: expected a {enum.__name__}, got {value!r}")  # type: ignore[union-attr]
    elif kind == "f32":
        with np.errstate(over="ignore"):
            exact = isinstance(value, float) and (value != value or float(np.float32(value)) == value)
        if not exact:  # NaN is allowed; anything else must survive the float32 round trip
            raise ValueError(f"field {name}: expected a float32 value, got {value!r}")
    elif kind == "loc":
        if not (isinstance(value, Loc) and isinstance(value.space, Space) and (
                value.addr is None or isinstance(value.addr, int) and 0 <= value.addr < 2**64 - 1)):
            raise ValueError(f"field {name}: expected Loc(space, addr), got {value!r}")
    else:  # dims, pair, quad: tuples of u32 / u16
        size, limit = {"dims": (3, 2**32), "pair": (2, 2**16), "quad": (4, 2**16), "strides": (2, 2**32)}[kind]
        if not (isinstance(value, tuple) and len(value) == size and all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v < limit for v in value)):
            raise ValueError(f"field {name}: expected {size} unsigned integers below {limit}, got {value!r}")


def span(start: int, nbytes: int, space: Space) -> tuple[Range, ...]:
    """The range ``[start, start + nbytes)`` in ``space``, or nothing when empty."""
    return ((space, start, start + nbytes),) if nbytes > 0 else ()


def dependent(a: Instr, b: Instr) -> bool:
    """Whether ``a`` and ``b`` touch a common byte that one of them writes (read-after-write,
    write-after-read or write-after-write): swapping them could change what either computes."""
    def overlap(x: tuple[Range, ...], y: tuple[Range, ...]) -> bool:
        return any(p[0] == q[0] and p[1] < q[2] and q[1] < p[2] for p in x for q in y)
    a_writes, b_writes = a.writes(), b.writes()
    return overlap(a_writes, b.reads()) or overlap(a.reads(), b_writes) or overlap(a_writes, b_writes)


def out_size(size: int, pads: int, kernel: int, stride: int, dilation: int) -> int:
    if stride < 1:
        return 0
    return (size + pads - dilation * (kernel - 1) - 1) // stride + 1


_MAC_DTYPES = ("int8", "int16", "fp16", "fp32")


def mac_dtype_problem(dtype: DType, a_offset: int) -> str | None:
    """What is wrong with the operand dtype of a multiply-accumulate instruction, if anything."""
    if dtype.text not in _MAC_DTYPES:
        return "dtype must be int8, int16, fp16 or fp32"
    if dtype.is_float and a_offset != 0:
        return "a_offset must be 0 for float operands"
    return None


class Window:
    """Output size of a sliding-window instruction with fields h, w, kernel, stride, dilation, pad."""

    h: int
    w: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad: tuple[int, int, int, int]

    @property
    def ho(self) -> int:
        return out_size(self.h, self.pad[0] + self.pad[1], self.kernel[0], self.stride[0], self.dilation[0])

    @property
    def wo(self) -> int:
        return out_size(self.w, self.pad[2] + self.pad[3], self.kernel[1], self.stride[1], self.dilation[1])
