"""DMA: the strided ``move`` (full form) and its address-free textbook form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from aics.dlp.isa.base import Instr, Loc, Range, Space, Unit, Work, fld


@dataclass(frozen=True, kw_only=True)
class Move(Instr):
    """DMA copy of a strided block ``shape = (z, y, x)``: ``z*y`` rows of ``x`` contiguous bytes.

    Row ``(i, j)`` is read at ``src.addr + i*src_strides[0] + j*src_strides[1]`` and written at
    ``dst.addr + i*dst_strides[0] + j*dst_strides[1]``; strides default to contiguous ``(y*x, x)``.
    All source bytes are read before any is written (overlap behaves like memmove). With no
    addresses it is the textbook ``move SRC DST SIZE``: ``shape = (1, 1, SIZE)``, timing only.
    Unit: STORE when the destination is DRAM, LOAD otherwise.
    """

    OPCODE: ClassVar[int] = 0x01
    MNEMONIC: ClassVar[str] = "move"
    src: Loc = fld("loc")
    dst: Loc = fld("loc")
    shape: tuple[int, int, int] = fld("dims")
    src_strides: tuple[int, int] = fld("strides", None)  # None -> contiguous
    dst_strides: tuple[int, int] = fld("strides", None)

    @classmethod
    def textbook(cls, src: Space, dst: Space, size: int, tag: int = 0) -> Move:
        return cls(src=Loc(src), dst=Loc(dst), shape=(1, 1, size), tag=tag)

    def __post_init__(self) -> None:
        shape = self.shape
        if isinstance(shape, tuple) and len(shape) == 3 and all(isinstance(v, int) for v in shape):
            contiguous = (shape[1] * shape[2], shape[2])
            for name in ("src_strides", "dst_strides"):
                if getattr(self, name) is None:
                    object.__setattr__(self, name, contiguous)
        super().__post_init__()

    def _problem(self) -> str | None:
        if (self.src.addr is None) != (self.dst.addr is None):
            return "give both addresses (full form) or neither (textbook form)"
        return None

    @property
    def address_free(self) -> bool:
        return self.src.addr is None

    @property
    def nbytes(self) -> int:
        z, y, x = self.shape
        return z * y * x

    @property
    def unit(self) -> Unit:
        return Unit.STORE if self.dst.space == Space.DRAM else Unit.LOAD

    def reads(self) -> tuple[Range, ...]:
        return self._hull(self.src, self.src_strides)

    def writes(self) -> tuple[Range, ...]:
        return self._hull(self.dst, self.dst_strides)

    def work(self) -> Work:
        return Work(src=self.src.space, dst=self.dst.space, nbytes=self.nbytes)

    def _hull(self, loc: Loc, strides: tuple[int, int]) -> tuple[Range, ...]:
        if loc.addr is None or self.nbytes == 0:
            return ()
        z, y, x = self.shape
        return ((loc.space, loc.addr, loc.addr + (z - 1) * strides[0] + (y - 1) * strides[1] + x),)


@dataclass(frozen=True, kw_only=True)
class LoadSparse(Instr):
    """DMA of a bitmap-encoded tensor (``aics.numerics.sparse``) from DRAM, written dense on chip.

    Reads ``ceil(n / 8) + nnz`` bytes at ``src`` (a DRAM address) (presence bits, then the ``nnz`` non-zero
    bytes) and writes the ``n`` dense bytes (zeros where a bit is clear) at ``dst`` (NRAM or WRAM):
    the DRAM channel carries only the encoded bytes (exercise 7.10). Unit: LOAD.
    """

    OPCODE: ClassVar[int] = 0x04
    MNEMONIC: ClassVar[str] = "load_sparse"
    UNIT: ClassVar[Unit] = Unit.LOAD
    src: Loc = fld("loc")
    dst: Loc = fld("loc")
    n: int = fld("u32")
    nnz: int = fld("u32")

    def _problem(self) -> str | None:
        if self.src.space != Space.DRAM or self.src.addr is None:
            return "the source is a DRAM address"
        if self.dst.space not in (Space.NRAM, Space.WRAM) or self.dst.addr is None:
            return "the destination is an NRAM or WRAM address"
        if self.nnz > self.n:
            return f"nnz {self.nnz} exceeds n {self.n}"
        return None

    @property
    def encoded_bytes(self) -> int:
        return (self.n + 7) // 8 + self.nnz

    def reads(self) -> tuple[Range, ...]:
        assert self.src.addr is not None
        return ((Space.DRAM, self.src.addr, self.src.addr + self.encoded_bytes),)

    def writes(self) -> tuple[Range, ...]:
        assert self.dst.addr is not None
        return ((self.dst.space, self.dst.addr, self.dst.addr + self.n),) if self.n else ()

    def work(self) -> Work:
        return Work(src=Space.DRAM, dst=self.dst.space, nbytes=self.encoded_bytes)
