"""Where everything lives: the DRAM image and the per-layer on-chip buffer plans.

DRAM (one flat byte space, addresses from 0)::

    [ constants: weights in tile order, bias/mult/shift tables, LUTs ][ activations ][ I/O ]

* Constants are appended in the order the lowering asks for them, each aligned to ``ALIGN``
  bytes, so one weight tile is one contiguous DMA (``DramImage.add``).
* Every activation tensor gets its own region (no reuse yet: DRAM is not the scarce resource of
  the simulated machine, and distinct regions keep the simulator's hazard tracking exact).
  Data-movement nodes that do not change bytes share regions instead (``compiler.views``): a
  reshape or a contiguous slice is a view of its input, a concat's inputs are written in place
  into its output.

On chip, each layer plans its own NRAM/WRAM use with an ``Arena``: a bump allocator that raises
``CompileError`` naming the layer, the buffer and the bytes needed when a plan does not fit. A
layer starts from an empty arena; reuse across layers is safe because the simulator orders
conflicting accesses (read-after-write, write-after-read) by address.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aics.dlp.isa import DType
from aics.errors import CompileError

ALIGN = 64  # bytes: DMA bursts and vector rows start on 64-byte boundaries


def align(n: int, to: int = ALIGN) -> int:
    return -(-n // to) * to


@dataclass
class DramImage:
    """The initial DRAM contents (constants) plus the addresses of runtime tensors."""

    data: bytearray = field(default_factory=bytearray)
    symbols: dict[str, tuple[int, int]] = field(default_factory=dict)
    runtime_end: int = 0  # first free byte after the runtime (activation) regions

    def add(self, name: str, values: np.ndarray, dtype: DType) -> int:
        """Append ``values`` as ``dtype`` (little-endian, row-major); returns its address."""
        if self.runtime_end:
            raise AssertionError("constants must be added before runtime tensors are placed")
        raw = np.ascontiguousarray(values, dtype=dtype.numpy).tobytes()
        addr = align(len(self.data))
        self.data.extend(b"\0" * (addr - len(self.data)))
        self.data.extend(raw)
        self.symbols[name] = (addr, len(raw))
        return addr

    def place(self, name: str, nbytes: int) -> int:
        """Reserve a runtime region (after all constants) of ``nbytes``; returns its address."""
        start = align(max(self.runtime_end, len(self.data)))
        self.runtime_end = start + nbytes
        self.symbols[name] = (start, nbytes)
        return start

    @property
    def size(self) -> int:
        return max(self.runtime_end, len(self.data))


class Arena:
    """One on-chip buffer (NRAM or WRAM) of one layer: named regions, bump-allocated from address 0
    up, or from the top down (``top``): consecutive layers alternate, so a layer's first loads
    (tables, weights, input) do not overwrite buffers the previous layer is still computing on."""

    def __init__(self, buffer: str, capacity: int, layer: str, top: bool = False) -> None:
        self.buffer, self.capacity, self.layer, self.top = buffer, capacity, layer, top
        self.lo, self.hi = (capacity, capacity) if top else (0, 0)  # the allocated span [lo, hi)
        self.regions: dict[str, tuple[int, int]] = {}

    @property
    def span(self) -> tuple[int, int]:
        return self.lo, self.hi

    def alloc(self, name: str, nbytes: int) -> int:
        start = (self.lo - nbytes) // ALIGN * ALIGN if self.top else align(self.hi)
        need = self.capacity - start if self.top else start + nbytes
        if need > self.capacity:
            raise CompileError(f"layer '{self.layer}': {self.buffer} needs {need:,} bytes "
                               f"(region '{name}' of {nbytes:,}), the arch has {self.capacity:,}")
        if self.top:
            self.lo = start
        else:
            self.hi = start + nbytes
        self.regions[name] = (start, nbytes)
        return start
