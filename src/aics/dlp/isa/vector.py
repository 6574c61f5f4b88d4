"""Vector-unit instructions; all operands in NRAM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from aics.dlp.isa.base import (
    Bcast, DType, EltOp, Instr, PoolMode, Range, ReduceOp, Rounding, Space, UnaryOp, Window, Work, addr_fld,
    enum_fld, fld, mac_dtype_problem, out_size, span,
)


_I32 = (-(2**31), 2**31 - 1)


def _channels(mode: Bcast, rows: int, cols: int) -> int:
    return rows if mode == Bcast.ROW else cols if mode == Bcast.COL else 1


def _nram(start: int, nbytes: int) -> tuple[Range, ...]:
    return span(start, nbytes, Space.NRAM)


@dataclass(frozen=True, kw_only=True)
class Eltwise(Instr):
    """``out = a OP b`` over a (rows, cols) block of ``dtype``; OP in add, sub, mul, max, min.

    ``bcast`` row/col: ``b`` holds one value per row / per column (a per-channel operand);
    none: ``b`` is a full block. Integers compute exactly, then saturate to ``dtype``.
    """

    OPCODE: ClassVar[int] = 0x10
    MNEMONIC: ClassVar[str] = "eltwise"
    op: EltOp = enum_fld(EltOp)
    dtype: DType = enum_fld(DType)
    rows: int = fld("u32")
    cols: int = fld("u32")
    a: int = addr_fld()
    b: int = addr_fld()
    out: int = addr_fld()
    bcast: Bcast = enum_fld(Bcast, Bcast.NONE)

    def reads(self) -> tuple[Range, ...]:
        es, n = self.dtype.size, self.rows * self.cols
        blen = n if self.bcast == Bcast.NONE else _channels(self.bcast, self.rows, self.cols)
        return (*_nram(self.a, n * es), *_nram(self.b, blen * es))

    def writes(self) -> tuple[Range, ...]:
        return _nram(self.out, self.rows * self.cols * self.dtype.size)

    def work(self) -> Work:
        return Work(vector_op=f"{self.op.name}_{self.dtype.size * 8}", vector_elems=self.rows * self.cols)


@dataclass(frozen=True, kw_only=True)
class Requant(Instr):
    """int32 accumulators to int8/int16, with bias, requantisation and the activation clamp fused:
    ``out = sat(clip(out_zp + MBQM(wrap32(src + bias[ch]), mult[ch], shift[ch]), qmin, qmax))``.

    ``src`` is a (rows, cols) int32 block; ``bias``, ``mult``, ``shift`` are int32 arrays with one
    entry per channel, the channel being the row or column index (``channel``), or a single entry
    (none). ``shift`` follows TFLite: positive shifts left (see ``aics.numerics.fixedpoint``).
    """

    OPCODE: ClassVar[int] = 0x11
    MNEMONIC: ClassVar[str] = "requant"
    rows: int = fld("u32")
    cols: int = fld("u32")
    src: int = addr_fld()
    bias: int = addr_fld()
    mult: int = addr_fld()
    shift: int = addr_fld()
    dst: int = addr_fld()
    dtype: DType = enum_fld(DType)
    channel: Bcast = enum_fld(Bcast, Bcast.NONE)
    out_zp: int = fld("i32", 0)
    qmin: int = fld("i32", _I32[0])
    qmax: int = fld("i32", _I32[1])

    def _problem(self) -> str | None:
        if self.dtype not in (DType.INT8, DType.INT16):
            return "dtype (the output) must be int8 or int16"
        return "qmin must be <= qmax" if self.qmin > self.qmax else None

    def reads(self) -> tuple[Range, ...]:
        ch = _channels(self.channel, self.rows, self.cols) * 4
        return (*_nram(self.src, self.rows * self.cols * 4), *_nram(self.bias, ch),
                *_nram(self.mult, ch), *_nram(self.shift, ch))

    def writes(self) -> tuple[Range, ...]:
        return _nram(self.dst, self.rows * self.cols * self.dtype.size)

    def work(self) -> Work:
        return Work(vector_op="REQUANT", vector_elems=self.rows * self.cols)


@dataclass(frozen=True, kw_only=True)
class Lut(Instr):
    """``dst[i] = table[src[i] - min(dtype)]``: any int8 -> int8 function through a 256-entry table
    (int16: 65536 entries) at NRAM ``table`` — sigmoid, tanh, gelu, hardswish, ..."""

    OPCODE: ClassVar[int] = 0x12
    MNEMONIC: ClassVar[str] = "lut"
    n: int = fld("u32")
    dtype: DType = enum_fld(DType)
    src: int = addr_fld()
    table: int = addr_fld()
    dst: int = addr_fld()

    def _problem(self) -> str | None:
        return None if self.dtype in (DType.INT8, DType.INT16) else "dtype must be int8 or int16"

    def reads(self) -> tuple[Range, ...]:
        entries = 256 if self.dtype == DType.INT8 else 65536
        return (*_nram(self.src, self.n * self.dtype.size), *_nram(self.table, entries * self.dtype.size))

    def writes(self) -> tuple[Range, ...]:
        return _nram(self.dst, self.n * self.dtype.size)

    def work(self) -> Work:
        return Work(vector_op="LUT", vector_elems=self.n)


@dataclass(frozen=True, kw_only=True)
class Rescale(Instr):
    """Per-tensor rescaling (TFLite ADD): ``dst = sat(clip(out_zp + MBQM(wrap32((src - in_zp)
    << left_shift), mult, shift), qmin, qmax))`` from ``in_dtype`` to ``dtype`` (integers)."""

    OPCODE: ClassVar[int] = 0x13
    MNEMONIC: ClassVar[str] = "rescale"
    n: int = fld("u32")
    src: int = addr_fld()
    dst: int = addr_fld()
    in_dtype: DType = enum_fld(DType)
    dtype: DType = enum_fld(DType)
    mult: int = fld("i32")
    shift: int = fld("i8", 0)
    left_shift: int = fld("u8", 0)
    in_zp: int = fld("i32", 0)
    out_zp: int = fld("i32", 0)
    qmin: int = fld("i32", _I32[0])
    qmax: int = fld("i32", _I32[1])

    def _problem(self) -> str | None:
        if self.in_dtype.is_float or self.dtype.is_float:
            return "in_dtype and dtype must be integer types"
        if self.left_shift > 31 or not -31 <= self.shift <= 30:
            return "left_shift must be in [0, 31] and shift in [-31, 30]"
        return "qmin must be <= qmax" if self.qmin > self.qmax else None

    def reads(self) -> tuple[Range, ...]:
        return _nram(self.src, self.n * self.in_dtype.size)

    def writes(self) -> tuple[Range, ...]:
        return _nram(self.dst, self.n * self.dtype.size)

    def work(self) -> Work:
        return Work(vector_op="RESCALE", vector_elems=self.n)


@dataclass(frozen=True, kw_only=True)
class Cast(Instr):
    """Convert ``n`` elements from ``in_dtype`` to ``dtype`` (see ``aics.numerics.kernels.cast``):
    int->int ``sat(x - zp)``; int->float ``float32(x - zp) * scale``; float->int
    ``sat(round(x / scale) + zp)`` rounding half-even or half-away; float->float ``x * scale``."""

    OPCODE: ClassVar[int] = 0x14
    MNEMONIC: ClassVar[str] = "cast"
    n: int = fld("u32")
    src: int = addr_fld()
    dst: int = addr_fld()
    in_dtype: DType = enum_fld(DType)
    dtype: DType = enum_fld(DType)
    scale: float = fld("f32", 1.0)
    zp: int = fld("i32", 0)
    rounding: Rounding = enum_fld(Rounding, Rounding.HALF_EVEN)

    def reads(self) -> tuple[Range, ...]:
        return _nram(self.src, self.n * self.in_dtype.size)

    def writes(self) -> tuple[Range, ...]:
        return _nram(self.dst, self.n * self.dtype.size)

    def work(self) -> Work:
        return Work(vector_op="CAST", vector_elems=self.n)


@dataclass(frozen=True, kw_only=True)
class Pool(Instr):
    """Max or average pooling of (c, h, w) ``dtype`` at ``src`` to (c, ho, wo) at ``dst``.

    ``pad`` is (top, bottom, left, right). max: padding never wins. avg: sum of the in-bounds
    elements (plus ``pad_value`` per padded one if ``count_pad``) over their count (kh*kw if
    ``count_pad``); integers round to nearest, ties away from zero. Work: c*ho*wo*kh*kw elements.
    """

    OPCODE: ClassVar[int] = 0x15
    MNEMONIC: ClassVar[str] = "pool"
    mode: PoolMode = enum_fld(PoolMode)
    dtype: DType = enum_fld(DType)
    c: int = fld("u32")
    h: int = fld("u32")
    w: int = fld("u32")
    kernel: tuple[int, int] = fld("pair")
    src: int = addr_fld()
    dst: int = addr_fld()
    stride: tuple[int, int] = fld("pair", (1, 1))
    pad: tuple[int, int, int, int] = fld("quad", (0, 0, 0, 0))
    count_pad: bool = fld("bool", False)
    pad_value: int = fld("i32", 0)

    @property
    def ho(self) -> int:
        return out_size(self.h, self.pad[0] + self.pad[1], self.kernel[0], self.stride[0], 1)

    @property
    def wo(self) -> int:
        return out_size(self.w, self.pad[2] + self.pad[3], self.kernel[1], self.stride[1], 1)

    def _problem(self) -> str | None:
        if min(self.c, self.h, self.w, *self.kernel, *self.stride) < 1:
            return "c, h, w, kernel and stride must be >= 1"
        return "the kernel is larger than the padded input" if min(self.ho, self.wo) < 1 else None

    def reads(self) -> tuple[Range, ...]:
        return _nram(self.src, self.c * self.h * self.w * self.dtype.size)

    def writes(self) -> tuple[Range, ...]:
        return _nram(self.dst, self.c * self.ho * self.wo * self.dtype.size)

    def work(self) -> Work:
        elems = self.c * self.ho * self.wo * self.kernel[0] * self.kernel[1]
        return Work(vector_op=f"POOL_{self.mode.name}", vector_elems=elems)


@dataclass(frozen=True, kw_only=True)
class DwConv(Window, Instr):
    """Depthwise convolution tile on the vector unit:
    ``out[c, y, x] (= or +=) sum_ij (in[c, y*sh + i*dh - pt, x*sw + j*dw - pl] - a_offset) * wgt[c, i, j]``.

    Input (c, h, w) at ``inp``, weights (c, kh, kw) at ``wgt``, both ``dtype``, output (c, ho, wo)
    at ``out`` in int32 (integers, exact, wrapping at 32 bits) or float32, as ``conv`` with
    ``groups = o = c`` computes it; padded inputs equal ``a_offset``. All in NRAM. Work: one
    multiply-accumulate per lane per cycle, ``c*ho*wo*kh*kw`` of them (vector op ``MAC_<bits>``):
    a depthwise layer has no reduction across channels for a systolic array to share.
    """

    OPCODE: ClassVar[int] = 0x19
    MNEMONIC: ClassVar[str] = "dwconv"
    c: int = fld("u32")
    h: int = fld("u32")
    w: int = fld("u32")
    kernel: tuple[int, int] = fld("pair")
    inp: int = addr_fld()
    wgt: int = addr_fld()
    out: int = addr_fld()
    dtype: DType = enum_fld(DType)
    stride: tuple[int, int] = fld("pair", (1, 1))
    dilation: tuple[int, int] = fld("pair", (1, 1))
    pad: tuple[int, int, int, int] = fld("quad", (0, 0, 0, 0))
    a_offset: int = fld("i32", 0)
    accumulate: bool = fld("bool", False)

    def _problem(self) -> str | None:
        if min(self.c, self.h, self.w, *self.kernel, *self.stride, *self.dilation) < 1:
            return "c, h, w, kernel, stride and dilation must be >= 1"
        if self.ho < 1 or self.wo < 1:
            return "the kernel is larger than the padded input"
        return mac_dtype_problem(self.dtype, self.a_offset)

    def reads(self) -> tuple[Range, ...]:
        es, out = self.dtype.size, self.c * self.ho * self.wo * 4
        return (*_nram(self.inp, self.c * self.h * self.w * es),
                *_nram(self.wgt, self.c * self.kernel[0] * self.kernel[1] * es),
                *(_nram(self.out, out) if self.accumulate else ()))

    def writes(self) -> tuple[Range, ...]:
        return _nram(self.out, self.c * self.ho * self.wo * 4)

    def work(self) -> Work:
        return Work(vector_op=f"MAC_{self.dtype.size * 8}",
                    vector_elems=self.c * self.ho * self.wo * self.kernel[0] * self.kernel[1])


@dataclass(frozen=True, kw_only=True)
class Reduce(Instr):
    """Sum or max of a (rows, cols) ``dtype`` block along ``axis`` (0: over rows, one result per
    column; 1: over columns, one per row). Integer sums give int32 (wrapping), float sums
    float32; max keeps ``dtype``."""

    OPCODE: ClassVar[int] = 0x16
    MNEMONIC: ClassVar[str] = "reduce"
    op: ReduceOp = enum_fld(ReduceOp)
    dtype: DType = enum_fld(DType)
    rows: int = fld("u32")
    cols: int = fld("u32")
    axis: int = fld("u8")
    src: int = addr_fld()
    dst: int = addr_fld()

    def _problem(self) -> str | None:
        return None if self.axis in (0, 1) else "axis must be 0 or 1"

    @property
    def out_dtype(self) -> DType:
        if self.op == ReduceOp.MAX:
            return self.dtype
        return DType.FP32 if self.dtype.is_float else DType.INT32

    def reads(self) -> tuple[Range, ...]:
        return _nram(self.src, self.rows * self.cols * self.dtype.size)

    def writes(self) -> tuple[Range, ...]:
        count = self.cols if self.axis == 0 else self.rows
        return _nram(self.dst, count * self.out_dtype.size)

    def work(self) -> Work:
        return Work(vector_op=f"REDUCE_{self.op.name}", vector_elems=self.rows * self.cols)


@dataclass(frozen=True, kw_only=True)
class Unary(Instr):
    """Elementwise exp, rsqrt or reciprocal of ``n`` fp16/fp32 values, computed in float32."""

    OPCODE: ClassVar[int] = 0x17
    MNEMONIC: ClassVar[str] = "unary"
    op: UnaryOp = enum_fld(UnaryOp)
    dtype: DType = enum_fld(DType)
    n: int = fld("u32")
    src: int = addr_fld()
    dst: int = addr_fld()

    def _problem(self) -> str | None:
        return None if self.dtype.is_float else "dtype must be fp16 or fp32"

    def reads(self) -> tuple[Range, ...]:
        return _nram(self.src, self.n * self.dtype.size)

    def writes(self) -> tuple[Range, ...]:
        return _nram(self.dst, self.n * self.dtype.size)

    def work(self) -> Work:
        return Work(vector_op=f"{self.op.name}_{self.dtype.size * 8}", vector_elems=self.n)


@dataclass(frozen=True, kw_only=True)
class Softmax(Instr):
    """Integer softmax of each row of a (rows, cols) int8/int16 block (``aics.numerics.int_softmax``):
    ``e = table[max(row) - q]`` (int32 entries, Q15 exponentials, 256 entries for int8 and 65536
    for int16), ``dst = rounding_divide(e << 15, sum(e))``: int32 probabilities in Q0.15.
    Work: four passes per element (max, subtract and look up, sum, divide)."""

    OPCODE: ClassVar[int] = 0x18
    MNEMONIC: ClassVar[str] = "softmax"
    rows: int = fld("u32")
    cols: int = fld("u32")
    dtype: DType = enum_fld(DType)
    src: int = addr_fld()
    table: int = addr_fld()
    dst: int = addr_fld()

    def _problem(self) -> str | None:
        if self.dtype not in (DType.INT8, DType.INT16):
            return "dtype must be int8 or int16"
        return "cols must be below 65536 (the row sum must fit int32)" if self.cols >= 1 << 16 else None

    @property
    def entries(self) -> int:
        return 256 if self.dtype == DType.INT8 else 65536

    def reads(self) -> tuple[Range, ...]:
        return (*_nram(self.src, self.rows * self.cols * self.dtype.size), *_nram(self.table, self.entries * 4))

    def writes(self) -> tuple[Range, ...]:
        return _nram(self.dst, self.rows * self.cols * 4)

    def work(self) -> Work:
        return Work(vector_op="SOFTMAX", vector_elems=4 * self.rows * self.cols)
