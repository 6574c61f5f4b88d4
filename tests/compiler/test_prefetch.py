"""Constant loads hoisted ahead of activation loads (``compiler.prefetch``)."""

from __future__ import annotations

from aics.compiler.compile import compile_graph
from aics.compiler.prefetch import prefetch_constants
from aics.compiler.workflow import quantized_model
from aics.dlp import sim
from aics.dlp.arch_io import load_arch
from aics.dlp.isa import DType, Loc, MatMul, Move, Space, Sync

D, N, W = Space.DRAM, Space.NRAM, Space.WRAM
CONST_END = 0x1000


def _move(src: Loc, dst: Loc, n: int, tag: int) -> Move:
    return Move(src=src, dst=dst, shape=(1, 1, n), tag=tag)


def test_weights_pass_the_input_load_but_not_what_they_depend_on() -> None:
    mm = MatMul(m=1, k=64, n=16, a=0, b=0, c=4096, dtype=DType.INT8, tag=1)
    x2 = _move(Loc(D, 0x8000), Loc(N, 0x100), 64, 2)  # the next layer's input (written by layer 1)
    w2 = _move(Loc(D, 0x400), Loc(W, 0x2000), 1024, 2)  # its weights: a constant
    t2 = _move(Loc(D, 0x800), Loc(N, 0x100), 64, 2)  # a table into the input's bytes: must stay after
    code = [mm, _move(Loc(N, 4096), Loc(D, 0x8000), 64, 1), x2, w2, t2]
    out = prefetch_constants(code, CONST_END)
    assert out[2] is w2 and out[3] is x2 and out[4] is t2  # w2 hoisted past x2; t2 depends on x2
    assert out[:2] == code[:2]  # never past a compute or a store


def test_no_hoist_across_a_sync() -> None:
    code = [_move(Loc(D, 0x8000), Loc(N, 0), 64, 1), Sync(tag=1), _move(Loc(D, 0x400), Loc(W, 0), 64, 2)]
    assert prefetch_constants(code, CONST_END) == code


def test_lenet5_fc_weights_arrive_while_the_previous_layer_computes() -> None:
    q, arch = quantized_model("lenet5"), load_arch("edge-int8")
    program = compile_graph(q, arch).program
    code = program.code[0]
    const_end = len(program.dram)
    # every layer's first constant load comes before its first activation load
    for tag in sorted({i.tag for i in code}):
        loads = [i for i in code if i.tag == tag and isinstance(i, Move) and i.dst.space != D]
        kinds = [i.src.space == D and i.src.addr < const_end for i in loads]
        assert kinds and (kinds[0] or not any(kinds)), tag
    assert sim.run(program, arch, mode="timing").cycles < 9000
