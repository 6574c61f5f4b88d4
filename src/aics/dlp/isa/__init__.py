"""The DLP instruction set: one frozen dataclass per opcode.

Machine model. Memory spaces are DRAM (global), SRAM (the SharedRAM of the cluster) and, per core,
NRAM (neurons) and WRAM (weights); an address is a byte offset within its space, data are
little-endian, arrays row-major. Each core has four units, each executing its own instructions
in program order: LOAD (DMA into NRAM/WRAM/SRAM), STORE (DMA into DRAM), MATRIX and VECTOR;
``loop``/``endloop``/``sync`` are handled by the front end (CONTROL).

Every instruction offers the protocol the simulators use: ``unit``; ``reads()`` / ``writes()``,
the ``(space, start, end)`` byte ranges it touches (empty for the address-free textbook form;
strided moves give their bounding range, a conservative hull); and ``work()``, what it asks of
its unit independently of any arch (bytes moved, GEMM shapes and MACs, vector elements).
Every instruction carries ``tag``, a layer id (0 = none) that the program names.

Field metadata (``kind``) tells ``encoding`` and ``asm`` how each field is written: integer kinds
give their range, ``enum`` fields are written by member name, ``loc`` is a space with an optional
address, ``dims``/``pair``/``quad`` are tuples of unsigned integers.
"""

from aics.dlp.isa.base import (
    Bcast, ComputeType, DType, EltOp, Instr, Loc, PoolMode, Range, ReduceOp, Rounding, Space, UnaryOp,
    Unit, Work, dependent, span,
)
from aics.dlp.isa.control import Compute, EndLoop, HostCall, Loop, Sync
from aics.dlp.isa.matrix import Conv, MatMul
from aics.dlp.isa.transfer import LoadSparse, Move
from aics.dlp.isa.vector import Cast, DwConv, Eltwise, Lut, Pool, Reduce, Requant, Rescale, Softmax, Unary

INSTRUCTIONS: tuple[type[Instr], ...] = (
    Move, LoadSparse, MatMul, Conv, DwConv, Eltwise, Requant, Lut, Rescale, Cast, Pool, Reduce, Unary, Softmax, Compute, Loop,
    EndLoop, Sync, HostCall,
)
BY_OPCODE: dict[int, type[Instr]] = {cls.OPCODE: cls for cls in INSTRUCTIONS}
BY_MNEMONIC: dict[str, type[Instr]] = {cls.MNEMONIC: cls for cls in INSTRUCTIONS}

__all__ = [
    "BY_MNEMONIC", "BY_OPCODE", "INSTRUCTIONS", "Bcast", "Cast", "Compute", "ComputeType", "Conv",
    "DType", "DwConv", "EltOp", "EndLoop", "Eltwise", "HostCall", "Instr", "LoadSparse", "Loc", "Loop", "Lut", "MatMul", "Move", "Pool",
    "PoolMode", "Range", "Reduce", "ReduceOp", "Requant", "Rescale", "Rounding", "Softmax", "Space", "Sync",
    "Unary", "UnaryOp", "Unit", "Work", "dependent", "span",
]
