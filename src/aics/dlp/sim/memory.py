"""Byte-addressed memories of a running DLP: DRAM, SharedRAM, and NRAM/WRAM per core.

Every access is bounds-checked; typed reads and writes are little-endian views of the bytes, so a
program that uses a wrong address reads or clobbers the wrong data, as real hardware would.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided
from numpy.typing import NDArray

from aics.dlp.arch import Arch
from aics.dlp.isa import DType, Space
from aics.dlp.program import Program
from aics.errors import SimulationError

Bytes = NDArray[np.uint8]


class MemoryFault(Exception):
    """An access outside a memory; the simulator reports it with the instruction that made it."""


MAX_DRAM = 1 << 34  # bytes the functional simulator will allocate for DRAM (16 GiB, lazily zeroed)


class Memory:
    def __init__(self, arch: Arch, program: Program) -> None:
        if program.dram_size > MAX_DRAM:
            raise SimulationError(f"the program addresses {program.dram_size:,} bytes of DRAM, more than the "
                                  f"functional simulator's {MAX_DRAM:,}")
        self.dram: Bytes = np.zeros(program.dram_size, dtype=np.uint8)
        self.dram[:len(program.dram)] = np.frombuffer(program.dram, dtype=np.uint8)
        self.sram: Bytes = np.zeros(arch.memory.sram_kib * 1024, dtype=np.uint8)
        self.nram: list[Bytes] = [np.zeros(arch.memory.nram_kib * 1024, dtype=np.uint8) for _ in range(arch.cores)]
        self.wram: list[Bytes] = [np.zeros(arch.memory.wram_kib * 1024, dtype=np.uint8) for _ in range(arch.cores)]

    def space(self, space: Space, core: int) -> Bytes:
        if space == Space.DRAM:
            return self.dram
        if space == Space.SRAM:
            return self.sram
        return (self.nram if space == Space.NRAM else self.wram)[core]

    def read(self, space: Space, core: int, addr: int, count: int, dtype: DType) -> NDArray[np.generic]:
        """A copy of ``count`` elements of ``dtype`` at ``addr``."""
        return self._bytes(space, core, addr, count * dtype.size).view(dtype.numpy).copy()

    def write(self, space: Space, core: int, addr: int, values: NDArray[np.generic], dtype: DType) -> None:
        data = np.ascontiguousarray(values, dtype=dtype.numpy).reshape(-1).view(np.uint8)
        self._bytes(space, core, addr, data.size)[:] = data

    def strided(self, space: Space, core: int, addr: int, shape: tuple[int, int, int],
                strides: tuple[int, int]) -> Bytes:
        """A (z, y, x) byte view whose rows start at ``addr + i*strides[0] + j*strides[1]``."""
        z, y, x = shape
        buf = self.space(space, core)
        end = addr + (z - 1) * strides[0] + (y - 1) * strides[1] + x
        self._check(space, buf, addr, end)
        return as_strided(buf[addr:], shape=shape, strides=(strides[0], strides[1], 1))

    def _bytes(self, space: Space, core: int, addr: int, nbytes: int) -> Bytes:
        buf = self.space(space, core)
        self._check(space, buf, addr, addr + nbytes)
        return buf[addr:addr + nbytes]

    @staticmethod
    def _check(space: Space, buf: Bytes, start: int, end: int) -> None:
        if start < 0 or end > buf.size:
            raise MemoryFault(f"{space.name}[0x{start:x}, 0x{end:x}) is outside the {space.name} of "
                              f"{buf.size} bytes")
