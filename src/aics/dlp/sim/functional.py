"""Functional simulator: the executable definition of what each instruction does to memory.

Instructions run one at a time in program order per core; cores run epoch by epoch (the code
between their k-th and (k+1)-th sync), core 0 first. This is exactly what the timing model
allows: it reorders only instructions with no memory conflict, and cores meet only at syncs
(data races between cores inside an epoch are a program error). The arithmetic of each
instruction is ``aics.numerics.kernels``; this module only moves bytes to and from it.
Textbook instructions (no addresses) do nothing here. A ``host`` barrier hands its op to the
``host`` callable (the runtime that knows the op's payload) once every core has reached it.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from aics.dlp.arch import Arch
from aics.dlp.isa import (
    Bcast, Cast, Conv, DType, DwConv, Eltwise, HostCall, Instr, LoadSparse, Lut, MatMul, Move, Pool, Reduce, Requant, Rescale,
    Rounding, Softmax, Space, Sync, Unary,
)
from aics.dlp.program import HostOp, Program
from aics.dlp.sim import flow
from aics.dlp.sim.inputs import read_outputs, read_tensor, write_inputs, write_tensor
from aics.dlp.sim.memory import Memory, MemoryFault
from aics.dlp.sim.report import Result
from aics.dlp.sim.timing import check_program
from aics.errors import SimulationError
from aics.numerics import kernels, requantize
from aics.numerics.sparse import decode_bitmap

N, W = Space.NRAM, Space.WRAM
HostRunner = Callable[[HostOp, list[np.ndarray]], list[np.ndarray]]


def run(program: Program, arch: Arch, inputs: dict[str, np.ndarray] | None = None,
        host: HostRunner | None = None) -> Result:
    """Execute ``program`` on ``arch`` with ``inputs`` (by I/O descriptor name); ``host`` runs the
    program's host ops (required when it has any)."""
    check_program(program, arch)
    memory = Memory(arch, program)
    write_inputs(memory, program, inputs or {})
    execute(program, memory, host)
    return Result(outputs=read_outputs(memory, program), memory=memory)


def execute(program: Program, memory: Memory, host: HostRunner | None = None) -> None:
    epochs, barriers = [], []
    codes = [tuple(code) for code in program.code]  # decoded once (a loaded program's code is encoded)
    for core, stream in enumerate(flow.streams(program)):
        code = codes[core]
        epoch: list[list[int]] = [[]]
        for s in stream.tolist():
            if isinstance(code[s], Sync):
                epoch.append([])
                if core == 0:
                    barriers.append(code[s])
            else:
                epoch[-1].append(s)
        epochs.append(epoch)
    for k in range(max((len(e) for e in epochs), default=0)):
        for core, epoch in enumerate(epochs):
            for s in epoch[k] if k < len(epoch) else ():
                step(memory, core, codes[core][s], s)
        if k < len(barriers) and isinstance(barriers[k], HostCall):
            _host(memory, program.host_ops[barriers[k].op], host)


def _host(memory: Memory, op: HostOp, host: HostRunner | None) -> None:
    if host is None:
        raise SimulationError(f"the program runs host op '{op.name}' and no host runtime was given")
    outputs = host(op, [read_tensor(memory, d) for d in op.inputs])
    for desc, value in zip(op.outputs, outputs, strict=True):
        write_tensor(memory, desc, np.asarray(value))


def step(memory: Memory, core: int, instr: Instr, index: int = 0) -> None:
    """Execute one instruction; faults become ``SimulationError`` naming core, index and mnemonic."""
    handler = _HANDLERS.get(type(instr))
    if handler is None:
        return
    try:
        handler(memory, core, instr)
    except (MemoryFault, ValueError) as err:
        raise SimulationError(f"core {core}, instruction {index} ({instr.MNEMONIC}): {err}") from None


def _move(m: Memory, core: int, i: Move) -> None:
    src, dst = i.src.addr, i.dst.addr
    if src is None or dst is None or i.nbytes == 0:  # the textbook form moves no data
        return
    data = np.array(m.strided(i.src.space, core, src, i.shape, i.src_strides))
    m.strided(i.dst.space, core, dst, i.shape, i.dst_strides)[...] = data


def _load_sparse(m: Memory, core: int, i: LoadSparse) -> None:
    assert i.src.addr is not None and i.dst.addr is not None
    mask = (i.n + 7) // 8
    blob = m.read(Space.DRAM, core, i.src.addr, i.encoded_bytes, DType.INT8)
    bits = np.frombuffer(blob[:mask].tobytes(), dtype=np.uint8)
    marked = int(np.unpackbits(bits, count=i.n, bitorder="little").sum())
    if marked != i.nnz:  # the values that follow the bitmap are exactly the marked ones
        raise ValueError(f"the bitmap at DRAM 0x{i.src.addr:x} marks {marked} values, the instruction says nnz = {i.nnz}")
    m.write(i.dst.space, core, i.dst.addr, decode_bitmap(bits, blob[mask:], (i.n,)), DType.INT8)


def _acc_dtype(dtype: DType) -> DType:
    return DType.FP32 if dtype.is_float else DType.INT32


def _store_acc(m: Memory, core: int, addr: int, result: np.ndarray, dtype: DType, accumulate: bool) -> None:
    acc = _acc_dtype(dtype)
    if accumulate:
        result = kernels.accumulate(m.read(N, core, addr, result.size, acc).reshape(result.shape), result)
    m.write(N, core, addr, result, acc)


def _matmul(m: Memory, core: int, i: MatMul) -> None:
    a = m.read(N, core, i.a, i.m * i.k, i.dtype).reshape(i.m, i.k)
    b = m.read(W, core, i.b, i.k * i.n, i.dtype).reshape(i.k, i.n)
    _store_acc(m, core, i.c, kernels.matmul(a, b, i.dtype.text, i.a_offset), i.dtype, i.accumulate)


def _conv(m: Memory, core: int, i: Conv) -> None:
    x = m.read(N, core, i.inp, i.c * i.h * i.w, i.dtype).reshape(i.c, i.h, i.w)
    kh, kw = i.kernel
    w = m.read(W, core, i.wgt, i.o * (i.c // i.groups) * kh * kw, i.dtype).reshape(i.o, i.c // i.groups, kh, kw)
    out = kernels.conv2d(x, w, i.dtype.text, i.stride, i.dilation, i.pad, i.groups, i.a_offset)
    _store_acc(m, core, i.out, out, i.dtype, i.accumulate)


def _dwconv(m: Memory, core: int, i: DwConv) -> None:
    x = m.read(N, core, i.inp, i.c * i.h * i.w, i.dtype).reshape(i.c, i.h, i.w)
    kh, kw = i.kernel
    w = m.read(N, core, i.wgt, i.c * kh * kw, i.dtype).reshape(i.c, 1, kh, kw)
    out = kernels.conv2d(x, w, i.dtype.text, i.stride, i.dilation, i.pad, i.c, i.a_offset)
    _store_acc(m, core, i.out, out, i.dtype, i.accumulate)


def _per_channel(m: Memory, core: int, addr: int, mode: Bcast, rows: int, cols: int, dtype: DType) -> np.ndarray:
    """A per-row, per-column or single operand, shaped to broadcast over a (rows, cols) block."""
    shape = {Bcast.NONE: (1, 1), Bcast.ROW: (rows, 1), Bcast.COL: (1, cols)}[mode]
    return m.read(N, core, addr, shape[0] * shape[1], dtype).reshape(shape)


def _eltwise(m: Memory, core: int, i: Eltwise) -> None:
    a = m.read(N, core, i.a, i.rows * i.cols, i.dtype).reshape(i.rows, i.cols)
    if i.bcast == Bcast.NONE:
        b = m.read(N, core, i.b, i.rows * i.cols, i.dtype).reshape(i.rows, i.cols)
    else:
        b = _per_channel(m, core, i.b, i.bcast, i.rows, i.cols, i.dtype)
    m.write(N, core, i.out, kernels.eltwise(i.op.name.lower(), a, b, i.dtype.text), i.dtype)


def _requant(m: Memory, core: int, i: Requant) -> None:
    acc = m.read(N, core, i.src, i.rows * i.cols, DType.INT32).reshape(i.rows, i.cols)
    bias, mult, shift = (_per_channel(m, core, a, i.channel, i.rows, i.cols, DType.INT32)
                         for a in (i.bias, i.mult, i.shift))
    out = requantize(acc, mult, shift, i.out_zp, bias, i.qmin, i.qmax, i.dtype.text)
    m.write(N, core, i.dst, out, i.dtype)


def _lut(m: Memory, core: int, i: Lut) -> None:
    table = m.read(N, core, i.table, 256 if i.dtype == DType.INT8 else 65536, i.dtype)
    m.write(N, core, i.dst, kernels.lut(m.read(N, core, i.src, i.n, i.dtype), table, i.dtype.text), i.dtype)


def _rescale(m: Memory, core: int, i: Rescale) -> None:
    x = m.read(N, core, i.src, i.n, i.in_dtype)
    out = kernels.rescale(x, i.in_zp, i.left_shift, i.mult, i.shift, i.out_zp, i.qmin, i.qmax, i.dtype.text)
    m.write(N, core, i.dst, out, i.dtype)


def _cast(m: Memory, core: int, i: Cast) -> None:
    x = m.read(N, core, i.src, i.n, i.in_dtype)
    rounding: kernels.RoundMode = "half_even" if i.rounding == Rounding.HALF_EVEN else "half_away"
    out = kernels.cast(x, i.in_dtype.text, i.dtype.text, i.scale, i.zp, rounding)
    m.write(N, core, i.dst, out, i.dtype)


def _pool(m: Memory, core: int, i: Pool) -> None:
    x = m.read(N, core, i.src, i.c * i.h * i.w, i.dtype).reshape(i.c, i.h, i.w)
    out = kernels.pool2d(x, i.mode.name.lower(), i.kernel, i.stride, i.pad, i.dtype.text, i.count_pad, i.pad_value)
    m.write(N, core, i.dst, out, i.dtype)


def _reduce(m: Memory, core: int, i: Reduce) -> None:
    x = m.read(N, core, i.src, i.rows * i.cols, i.dtype).reshape(i.rows, i.cols)
    m.write(N, core, i.dst, kernels.reduce(x, i.op.name.lower(), i.axis, i.dtype.text), i.out_dtype)


def _unary(m: Memory, core: int, i: Unary) -> None:
    x = m.read(N, core, i.src, i.n, i.dtype)
    m.write(N, core, i.dst, kernels.unary(x, i.op.name.lower(), i.dtype.text), i.dtype)


def _softmax(m: Memory, core: int, i: Softmax) -> None:
    x = m.read(N, core, i.src, i.rows * i.cols, i.dtype).reshape(i.rows, i.cols)
    table = m.read(N, core, i.table, i.entries, DType.INT32)
    m.write(N, core, i.dst, kernels.softmax_q15(x, table), DType.INT32)


_HANDLERS: dict[type, Callable[..., None]] = {
    Move: _move, LoadSparse: _load_sparse, MatMul: _matmul, Conv: _conv, DwConv: _dwconv, Eltwise: _eltwise, Requant: _requant, Lut: _lut,
    Rescale: _rescale, Cast: _cast, Pool: _pool, Reduce: _reduce, Unary: _unary, Softmax: _softmax,
}
