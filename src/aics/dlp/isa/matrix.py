"""Matrix-unit instructions: ``matmul`` and ``conv`` tiles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from aics.dlp.isa.base import (
    DType, Instr, Range, Space, Unit, Window, Work, addr_fld, enum_fld, fld, mac_dtype_problem, span,
)


@dataclass(frozen=True, kw_only=True)
class MatMul(Instr):
    """``C[m,n] (= or +=) (A[m,k] - a_offset) @ B[k,n]``.

    A at NRAM ``a``, B at WRAM ``b`` (``dtype`` elements), C at NRAM ``c``: int32 for int8/int16
    operands (exact products, wrapping at 32 bits), float32 for fp16/fp32 (IEEE, numpy float32).
    ``a_offset`` is the activation zero point (integers only). ``accumulate`` adds to C.
    """

    OPCODE: ClassVar[int] = 0x02
    MNEMONIC: ClassVar[str] = "matmul"
    UNIT: ClassVar[Unit] = Unit.MATRIX
    m: int = fld("u32")
    k: int = fld("u32")
    n: int = fld("u32")
    a: int = addr_fld()
    b: int = addr_fld()
    c: int = addr_fld()
    dtype: DType = enum_fld(DType)
    a_offset: int = fld("i32", 0)
    accumulate: bool = fld("bool", False)

    def _problem(self) -> str | None:
        return mac_dtype_problem(self.dtype, self.a_offset)

    def reads(self) -> tuple[Range, ...]:
        acc = span(self.c, self.m * self.n * 4, Space.NRAM) if self.accumulate else ()
        es = self.dtype.size
        return (*span(self.a, self.m * self.k * es, Space.NRAM),
                *span(self.b, self.k * self.n * es, Space.WRAM), *acc)

    def writes(self) -> tuple[Range, ...]:
        return span(self.c, self.m * self.n * 4, Space.NRAM)

    def work(self) -> Work:
        return Work(gemms=((self.m, self.k, self.n),), macs=self.m * self.k * self.n,
                    mac_dtype=self.dtype.text)


@dataclass(frozen=True, kw_only=True)
class Conv(Window, Instr):
    """Direct convolution tile: ``out[o, y, x] (= or +=) sum (in - a_offset) * wgt``.

    Input (c, h, w) at NRAM ``inp``, weights (o, c/groups, kh, kw) at WRAM ``wgt`` (``dtype``),
    output (o, ho, wo) at NRAM ``out`` in int32 / float32 as for ``matmul``. ``pad`` is (top,
    bottom, left, right); padded inputs equal ``a_offset`` so they contribute zero. Timing: per
    group a GEMM with M = ho*wo, K = c/groups*kh*kw, N = o/groups, groups one after another.
    """

    OPCODE: ClassVar[int] = 0x03
    MNEMONIC: ClassVar[str] = "conv"
    UNIT: ClassVar[Unit] = Unit.MATRIX
    c: int = fld("u32")
    h: int = fld("u32")
    w: int = fld("u32")
    o: int = fld("u32")
    kernel: tuple[int, int] = fld("pair")
    inp: int = addr_fld()
    wgt: int = addr_fld()
    out: int = addr_fld()
    dtype: DType = enum_fld(DType)
    stride: tuple[int, int] = fld("pair", (1, 1))
    dilation: tuple[int, int] = fld("pair", (1, 1))
    pad: tuple[int, int, int, int] = fld("quad", (0, 0, 0, 0))
    groups: int = fld("u16", 1)
    a_offset: int = fld("i32", 0)
    accumulate: bool = fld("bool", False)

    def _problem(self) -> str | None:
        if min(self.c, self.h, self.w, self.o, *self.kernel, *self.stride, *self.dilation, self.groups) < 1:
            return "c, h, w, o, kernel, stride, dilation and groups must be >= 1"
        if self.c % self.groups or self.o % self.groups:
            return f"groups={self.groups} must divide c={self.c} and o={self.o}"
        if self.ho < 1 or self.wo < 1:
            return "the kernel is larger than the padded input"
        return mac_dtype_problem(self.dtype, self.a_offset)

    def reads(self) -> tuple[Range, ...]:
        es = self.dtype.size
        acc = span(self.out, self.o * self.ho * self.wo * 4, Space.NRAM) if self.accumulate else ()
        weights = self.o * (self.c // self.groups) * self.kernel[0] * self.kernel[1] * es
        return (*span(self.inp, self.c * self.h * self.w * es, Space.NRAM),
                *span(self.wgt, weights, Space.WRAM), *acc)

    def writes(self) -> tuple[Range, ...]:
        return span(self.out, self.o * self.ho * self.wo * 4, Space.NRAM)

    def work(self) -> Work:
        gemm = (self.ho * self.wo, self.c // self.groups * self.kernel[0] * self.kernel[1], self.o // self.groups)
        return Work(gemms=(gemm,) * self.groups, macs=self.groups * gemm[0] * gemm[1] * gemm[2],
                    mac_dtype=self.dtype.text)
