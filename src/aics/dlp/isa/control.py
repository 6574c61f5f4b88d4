"""The textbook ``compute TYPE NUM`` and the control instructions ``loop``, ``endloop``, ``sync``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from aics.dlp.isa.base import ComputeType, Instr, Unit, Work, enum_fld, fld


@dataclass(frozen=True, kw_only=True)
class Compute(Instr):
    """Textbook ``compute TYPE NUM``: ``num`` operations of ``type``, timing only.

    MAC_32 / MAC_16 run on the matrix unit (as fp32 / fp16 MACs), the others on the vector unit.
    """

    OPCODE: ClassVar[int] = 0x30
    MNEMONIC: ClassVar[str] = "compute"
    type: ComputeType = enum_fld(ComputeType)
    num: int = fld("u64")

    @property
    def unit(self) -> Unit:
        return Unit.MATRIX if self.type.name.startswith("MAC") else Unit.VECTOR

    def work(self) -> Work:
        if self.unit == Unit.MATRIX:
            return Work(macs=self.num, mac_dtype="fp32" if self.type == ComputeType.MAC_32 else "fp16")
        return Work(vector_op=self.type.name, vector_elems=self.num)


@dataclass(frozen=True, kw_only=True)
class Loop(Instr):
    """Run the instructions up to the matching ``endloop`` ``n`` times (loops nest)."""

    OPCODE: ClassVar[int] = 0x40
    MNEMONIC: ClassVar[str] = "loop"
    UNIT: ClassVar[Unit] = Unit.CONTROL
    n: int = fld("u32")


@dataclass(frozen=True, kw_only=True)
class EndLoop(Instr):
    """End of the body of the innermost open ``loop``."""

    OPCODE: ClassVar[int] = 0x41
    MNEMONIC: ClassVar[str] = "endloop"
    UNIT: ClassVar[Unit] = Unit.CONTROL


@dataclass(frozen=True, kw_only=True)
class Sync(Instr):
    """Barrier. One core: everything before it finishes before anything after it starts. Several
    cores: each core waits at its k-th sync until every core has finished everything it issued
    before its own k-th sync."""

    OPCODE: ClassVar[int] = 0x42
    MNEMONIC: ClassVar[str] = "sync"
    UNIT: ClassVar[Unit] = Unit.CONTROL


@dataclass(frozen=True, kw_only=True)
class HostCall(Sync):
    """Hand op ``op`` of the program's host-op table to the host CPU for ``cycles`` cycles.

    A barrier like ``sync`` (every core emits it at the same point of its stream): the host reads
    its inputs from DRAM after everything before the barrier has finished, writes its outputs to
    DRAM, and only then do the cores go on. ``cycles`` is the compiler's host-model estimate
    (``arch.host``), so the timing model needs no knowledge of the op itself.
    """

    OPCODE: ClassVar[int] = 0x43
    MNEMONIC: ClassVar[str] = "host"
    op: int = fld("u32")
    cycles: int = fld("u64")
