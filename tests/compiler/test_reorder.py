"""List scheduling of compiled code (``compiler.reorder``): dependencies, the order it picks, and
that a reordered program computes the same and is kept only when faster."""

from __future__ import annotations

from aics.compiler.compile import compile_graph
from aics.compiler.reorder import dependencies, list_schedule
from aics.compiler.workflow import quantized_model, simulate
from aics.dlp import sim
from aics.dlp.arch_io import load_arch
from aics.dlp.isa import DType, EltOp, Eltwise, Loc, Move, Space, Sync, dependent
from aics.dlp.program import Program

D, N = Space.DRAM, Space.NRAM
ARCH = load_arch("edge-int8")


def _add(a: int, out: int, n: int = 64) -> Eltwise:
    return Eltwise(op=EltOp.ADD, dtype=DType.INT8, rows=1, cols=n, a=a, b=a, out=out)


def test_dependencies_are_exactly_the_conflicts_up_to_transitivity() -> None:
    code = list(compile_graph(quantized_model("digits_resnet", calib_size=1), ARCH, reorder=False).program.code[0])
    deps = dependencies(code)
    closure: list[set[int]] = []
    for i, d in enumerate(deps):
        assert all(j < i and dependent(code[j], code[i]) for j in d)  # only real conflicts
        closure.append(set(d).union(*(closure[j] for j in d)))
    for i in range(len(code)):  # and every conflict is implied
        assert {j for j in range(i) if dependent(code[j], code[i])} <= closure[i]


def test_raw_war_waw_on_partial_overlaps() -> None:
    code = [Move(src=Loc(D, 0), dst=Loc(N, 0), shape=(1, 1, 128)),  # 0 writes N[0,128)
            _add(64, 512),  # 1 reads N[64,128): RAW on 0
            Move(src=Loc(D, 0), dst=Loc(N, 96), shape=(1, 1, 8)),  # 2 writes N[96,104): WAR on 1, WAW on 0
            _add(1024, 2048)]  # 3 touches nothing of the others
    assert dependencies(code) == [[], [0], [0, 1], []]


def test_an_independent_op_overtakes_one_that_waits_for_dram() -> None:
    slow = Move(src=Loc(D, 0), dst=Loc(N, 0), shape=(1, 1, 8192))  # ~420 cycles of DRAM
    code = [slow, _add(0, 16384), _add(32768, 49152)]  # the second add needs nothing
    out = list_schedule(code, ARCH, dram_size=1 << 16)
    assert out == [slow, code[2], code[1]]
    before, after = (sim.run(Program(code=(tuple(c),), dram_size=1 << 16), ARCH, mode="timing").cycles
                     for c in (code, out))
    assert after < before


def test_barriers_are_never_crossed() -> None:
    slow = Move(src=Loc(D, 0), dst=Loc(N, 0), shape=(1, 1, 8192))
    code = [slow, _add(0, 16384), Sync(), _add(32768, 49152)]
    assert list_schedule(code, ARCH, dram_size=1 << 16) == code


def test_reordered_program_is_exact_and_never_slower() -> None:
    q = quantized_model("lenet5")
    kept = simulate(q, ARCH, seed=4)
    plain = simulate(q, ARCH, seed=4, reorder=False)
    assert kept.report["bit_exact"] and plain.report["bit_exact"]
    assert kept.report["cycles"] <= plain.report["cycles"]
