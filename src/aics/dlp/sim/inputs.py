"""Program inputs into DRAM and outputs out of it, through the program's I/O descriptors."""

from __future__ import annotations

import numpy as np

from aics.dlp.isa import Space
from aics.dlp.program import Program, TensorDesc
from aics.dlp.sim.memory import Memory, MemoryFault
from aics.errors import DataError


def write_inputs(memory: Memory, program: Program, inputs: dict[str, np.ndarray]) -> None:
    """Store each input at its descriptor's address; names, shapes and values are checked."""
    known = {d.name: d for d in program.inputs}
    for name in inputs:
        if name not in known:
            raise DataError(f"unknown input '{name}' (the program's inputs: {', '.join(known) or 'none'})")
    for name, desc in known.items():
        if name not in inputs:
            raise DataError(f"missing input '{name}' of shape {'x'.join(map(str, desc.shape))}")
        _store(memory, desc, np.asarray(inputs[name]))


def read_outputs(memory: Memory, program: Program) -> dict[str, np.ndarray]:
    return {desc.name: read_tensor(memory, desc) for desc in program.outputs}


def read_tensor(memory: Memory, desc: TensorDesc) -> np.ndarray:
    """The tensor ``desc`` describes, read from DRAM."""
    count = int(np.prod(desc.shape, dtype=np.int64))
    try:
        return memory.read(Space.DRAM, 0, desc.addr, count, desc.dtype).reshape(desc.shape)
    except MemoryFault as err:
        raise DataError(f"tensor '{desc.name}': {err}") from None


def write_tensor(memory: Memory, desc: TensorDesc, value: np.ndarray) -> None:
    """Store ``value`` (its shape and values checked against ``desc``) in DRAM."""
    _store(memory, desc, value)


def _store(memory: Memory, desc: TensorDesc, value: np.ndarray) -> None:
    if value.shape != desc.shape:
        raise DataError(f"input '{desc.name}': expected shape {'x'.join(map(str, desc.shape))}, "
                        f"got {'x'.join(map(str, value.shape))}")
    if desc.dtype.is_float:
        if not np.issubdtype(value.dtype, np.number) or not np.all(np.isfinite(value)):
            raise DataError(f"input '{desc.name}': NaN, infinite or non-numeric values")
    else:
        info = np.iinfo(desc.dtype.numpy)
        in_range = value.size == 0 or (value.min() >= info.min and value.max() <= info.max)
        if not np.issubdtype(value.dtype, np.integer) or not in_range:
            raise DataError(f"input '{desc.name}': expected {desc.dtype.text} integers in "
                            f"[{info.min}, {info.max}]")
    try:
        memory.write(Space.DRAM, 0, desc.addr, value, desc.dtype)
    except MemoryFault as err:
        raise DataError(f"input '{desc.name}': {err}") from None
