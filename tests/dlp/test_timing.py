"""Timing model: per-instruction formulas, hazards, the shared DRAM channel, sync, reports, traces.

Test arch (``ARCH``): 1 GHz; DRAM 16 GB/s = 16 B/cycle with 10 cycles latency; SharedRAM link
32 GB/s = 32 B/cycle; 16 vector lanes, so NRAM/WRAM-local moves run at 4 * 16 = 64 B/cycle; an
ideal matrix unit doing 256 int8 / 64 fp32 MACs per cycle.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aics.dlp import sim
from aics.dlp.arch import Arch, Dram, Energy, Memories, MatrixUnit, VectorUnit
from aics.dlp.asm import assemble
from aics.dlp.isa import (
    Compute, ComputeType, Conv, DType, EltOp, Eltwise, EndLoop, Instr, Loc, Loop, MatMul, Move, Pool, PoolMode,
    Space, Sync,
)
from aics.dlp.program import Program
from aics.dlp.sim import flow, timing
from aics.dlp.sim.costs import CostModel
from aics.dlp.sim.engine import Facts, schedule_streams
from aics.dlp.sim.hazards import Ranges, distances
from aics.dlp.systolic import gemm_cost
from aics.errors import SimulationError

D, S, N, W = Space.DRAM, Space.SRAM, Space.NRAM, Space.WRAM
ARCH = Arch(name="unit", cores=2, matrix=MatrixUnit(kind="ideal", macs_per_cycle={"int8": 256, "fp32": 64}),
            vector=VectorUnit(lanes=16, ops_per_cycle={"DIV_32": 2}),
            memory=Memories(nram_kib=64, wram_kib=64, sram_kib=64, sram_bandwidth_gbps=32.0),
            dram=Dram(bandwidth_gbps=16.0, latency_cycles=10),
            energy=Energy(pj_per_mac={"int8": 0.5}, pj_per_vector_op=0.25,
                          pj_per_byte={"dram": 10.0, "sram": 2.0, "nram": 1.0, "wram": 1.5}))


def cycles_of(*code: Instr, arch: Arch = ARCH) -> int:
    return sim.run(Program(code=(code,), dram_size=1 << 16), arch, mode="timing").cycles


def move(src: Space, s: int, dst: Space, d: int, nbytes: int, tag: int = 0) -> Move:
    return Move(src=Loc(src, s), dst=Loc(dst, d), shape=(1, 1, nbytes), tag=tag)


def test_transfer_times() -> None:
    assert cycles_of(move(D, 0, N, 0, 1000)) == 10 + 63  # latency + ceil(1000 / 16)
    assert cycles_of(move(N, 0, D, 0, 1000)) == 73
    assert cycles_of(move(S, 0, N, 0, 1000)) == 32  # ceil(1000 / 32) on the core's link
    assert cycles_of(move(N, 0, W, 0, 1000)) == 16  # ceil(1000 / 64) on chip
    assert cycles_of(Move.textbook(D, W, 1600)) == 110
    assert cycles_of(Move.textbook(D, N, 0)) == 10  # latency alone
    no_latency = replace(ARCH, dram=Dram(bandwidth_gbps=25.6, latency_cycles=0))
    assert cycles_of(Move.textbook(D, N, 1024), arch=no_latency) == 40  # 25.6 GB/s = 128/5 B/cycle exactly
    assert cycles_of(Move.textbook(D, N, 1025), arch=no_latency) == 41


def test_matrix_times_follow_gemm_cost() -> None:
    assert cycles_of(MatMul(m=5, k=33, n=7, a=0, b=0, c=0x400, dtype=DType.INT8)) == 5  # ceil(1155 / 256)
    assert cycles_of(MatMul(m=8, k=8, n=8, a=0, b=0, c=0x400, dtype=DType.FP32)) == 8  # 512 / 64
    systolic = replace(ARCH, matrix=MatrixUnit(kind="systolic", rows=4, cols=4, dataflow="ws",
                                               macs_per_cycle={"int8": 16}))
    mm = MatMul(m=10, k=9, n=6, a=0, b=0, c=0x400, dtype=DType.INT8)
    assert cycles_of(mm, arch=systolic) == gemm_cost(systolic.matrix, 10, 9, 6).cycles
    conv = Conv(c=4, h=6, w=6, o=6, kernel=(3, 3), inp=0, wgt=0, out=0x800, dtype=DType.INT8, groups=2)
    assert cycles_of(conv, arch=systolic) == 2 * gemm_cost(systolic.matrix, 16, 18, 3).cycles


def test_vector_and_textbook_compute_times() -> None:
    assert cycles_of(Eltwise(op=EltOp.ADD, dtype=DType.INT8, rows=3, cols=11, a=0, b=64, out=128)) == 3
    pool = Pool(mode=PoolMode.MAX, dtype=DType.INT8, c=2, h=4, w=4, kernel=(2, 2), stride=(2, 2), src=0, dst=64)
    assert cycles_of(pool) == 2  # 2*2*2*4 = 32 elements / 16 lanes
    assert cycles_of(Compute(type=ComputeType.MAC_32, num=641)) == 11  # ceil(641 / 64): the fp32 rate
    assert cycles_of(Compute(type=ComputeType.DIV_32, num=9)) == 5  # ops_per_cycle DIV_32 = 2
    assert cycles_of(Compute(type=ComputeType.ADD_16, num=33)) == 3  # lanes


def test_units_overlap_unless_ordered() -> None:
    # Textbook form: no addresses, so only sync orders different units.
    assert cycles_of(Move.textbook(D, N, 1600), Compute(type=ComputeType.MAC_32, num=64 * 50)) == 110
    assert cycles_of(Move.textbook(D, N, 1600), Sync(), Compute(type=ComputeType.MAC_32, num=64 * 50)) == 160
    # Same unit: program order even without any conflict.
    assert cycles_of(move(D, 0, N, 0, 1600), move(D, 0, W, 0, 1600)) == 220


def test_raw_war_waw_by_byte_overlap() -> None:
    load = move(D, 0, N, 0, 1600)  # 110 cycles, writes NRAM [0, 1600)
    reads_it = Eltwise(op=EltOp.ADD, dtype=DType.INT8, rows=1, cols=16 * 30, a=1599, b=4000, out=8000)  # 30 cycles
    reads_other = replace(reads_it, a=1600)
    assert cycles_of(load, reads_it) == 140  # RAW: one byte of overlap is enough
    assert cycles_of(load, reads_other) == 110  # disjoint: the vector unit runs alongside
    assert cycles_of(reads_it, load) == 140  # WAR: the load may not overwrite what is being read
    writes_dst = replace(reads_other, out=100)
    assert cycles_of(writes_dst, load) == 140  # WAW
    result = sim.run(Program(code=((load, reads_it),), dram_size=1 << 16), ARCH, mode="timing")
    assert result.timing.units[0]["vector"].stalls["dependency"] == 110


def test_dram_channel_is_shared_first_come_first_served() -> None:
    # Both cores ask for the channel at cycle 0: core 0 first, core 1 waits 110 cycles.
    program = Program(code=((move(D, 0, N, 0, 1600),), (move(D, 0, N, 0, 1600),)), dram_size=1 << 16)
    report = sim.run(program, ARCH, mode="timing").timing
    assert report.cycles == 220
    assert [core["load"].stalls["dram"] for core in report.units] == [0, 110]
    # Readiness, not core id, decides: core 1's request is ready at 50, core 0's at 100.
    core0 = (move(S, 0, N, 0, 3200), move(D, 0, N, 0x4000, 160))  # 100 on the link, then 10 + 10
    core1 = (move(S, 0, N, 0, 1600), move(D, 0, N, 0x4000, 1600))  # 50 on the link, then 10 + 100
    report = sim.run(Program(code=(core0, core1), dram_size=1 << 16), ARCH, mode="timing").timing
    assert report.cycles == 180  # core 1 holds the channel 50..160, core 0 then 160..180
    assert [core["load"].stalls["dram"] for core in report.units] == [60, 0]


def test_load_and_store_of_one_core_share_the_channel() -> None:
    assert cycles_of(Move.textbook(D, N, 1600), Move.textbook(N, D, 1600)) == 220


def test_sync_is_a_barrier_across_cores() -> None:
    program = assemble("""
        core 0
        compute MAC_32 64000        ; 1000 cycles
        sync
        move DRAM NRAM 160          ; 20 cycles
        core 1
        move DRAM NRAM 160          ; 20 cycles, then waits for core 0 at the barrier
        sync
        compute MAC_32 640          ; 10 cycles, starts at 1000
    """)
    report = sim.run(program, ARCH, mode="timing").timing
    assert report.cycles == 1020
    assert report.units[1]["matrix"].stalls["sync"] == 1000
    assert report.units[0]["load"].stalls["sync"] == 1000


def test_unequal_sync_counts_are_refused() -> None:
    program = assemble("core 0\nsync\nsync\ncore 1\nsync")
    with pytest.raises(SimulationError, match="different numbers of sync"):
        sim.run(program, ARCH, mode="timing")
    with pytest.raises(SimulationError, match="code for 3 cores, the arch unit has 2"):
        sim.run(assemble("core 2\nsync"), ARCH, mode="timing")


def test_program_for_another_arch_is_refused() -> None:
    from aics.dlp.program import arch_fingerprint

    program = Program(code=((Sync(),),), arch_name="other", arch_fingerprint=arch_fingerprint(replace(ARCH, cores=1)))
    with pytest.raises(SimulationError, match="built for the arch other"):
        sim.run(program, ARCH)


def test_report_counts_bytes_macs_energy_layers() -> None:
    code = (move(D, 0, N, 0, 1024, tag=1), MatMul(m=4, k=16, n=16, a=0, b=0, c=0x400, dtype=DType.INT8, tag=2),
            move(N, 0x400, D, 0x800, 256, tag=2))
    program = Program(code=(code,), dram_size=1 << 16, layers={1: "load", 2: "fc"})
    report = sim.run(program, ARCH, mode="timing").timing
    assert report.bytes == {"dram": 1024 + 256, "sram": 0, "nram": 1024 + 64 + 256 + 256, "wram": 256}
    assert report.macs == 1024
    expected_pj = 1024 * 0.5 + 1280 * 10.0 + 1600 * 1.0 + 256 * 1.5
    assert report.energy_pj == pytest.approx(expected_pj)
    assert report.cycles == 74 + 4 + 26  # 10+64, ceil(1024/256), 10+16
    assert report.utilization == pytest.approx(4 / (2 * 104))  # 1024 MACs = 4 peak cycles, 2 cores
    layers = {layer.name: layer for layer in report.layers}
    assert (layers["load"].start, layers["load"].end) == (0, 74)
    assert (layers["fc"].start, layers["fc"].end, layers["fc"].busy["matrix"]) == (74, 104, 4)
    data = report.to_dict()
    for key in ("cycles", "seconds", "busy_cycles", "utilization", "dram_bytes", "stalls", "energy_pj", "arch"):
        assert key in data
    assert data["busy_cycles"][0] == {"load": 74, "store": 26, "matrix": 4, "vector": 0}
    assert data["arch"]["name"] == "unit" and json.dumps(data)


def test_same_program_same_cycles_and_outputs() -> None:
    program = Program(code=((move(D, 0, N, 0, 64), Eltwise(op=EltOp.MUL, dtype=DType.INT8, rows=8, cols=8, a=0, b=0,
                                                            out=64), move(N, 64, D, 64, 64)),),
                      dram=bytes(range(64)), dram_size=128)
    first, second = sim.run(program, ARCH), sim.run(program, ARCH)
    assert first.timing.to_dict() == second.timing.to_dict()
    assert first.memory is not None and second.memory is not None
    assert np.array_equal(first.memory.dram, second.memory.dram)


def test_trace_tracks_never_overlap(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "examples" / "textbook" / "ex7_11_overlapped.s").read_text()
    program = assemble(".layer 3 fc\n" + text.replace("compute MAC_32 131072", "compute MAC_32 131072 tag=3"))
    arch = replace(ARCH, cores=4)
    path = tmp_path / "trace.json"
    report = sim.run(program, arch, mode="timing", trace=path).timing
    trace = json.loads(path.read_text())
    slices = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    assert names[(0, 0)] == "load" and names[(3, 2)] == "matrix"
    assert {e["name"] for e in slices} == {"move", "compute fc"}
    assert max(e["ts"] + e["dur"] for e in slices) == report.cycles
    for track in {(e["pid"], e["tid"]) for e in slices}:
        spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in slices if (e["pid"], e["tid"]) == track)
        assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:])), track
    assert not list(tmp_path.glob("*.tmp"))


def test_huge_loop_counts_are_refused_before_running() -> None:
    with pytest.raises(SimulationError, match="limit"):
        cycles_of(Loop(n=100_000), Loop(n=1_000), Sync(), EndLoop(), EndLoop())


# --- loops are analysed for two iterations and copied: same schedule as a full unrolling --------

_SPACES = st.sampled_from([D, N, W])


@st.composite
def looped_programs(draw: st.DrawFn) -> tuple[Instr, ...]:
    def leaf() -> Instr:
        kind = draw(st.integers(0, 3))
        if kind == 0:
            src, dst = draw(_SPACES), draw(_SPACES)
            return Move(src=Loc(src, draw(st.integers(0, 48))), dst=Loc(dst, draw(st.integers(0, 48))),
                        shape=(1, 1, draw(st.integers(1, 40))))
        if kind == 1:
            return Eltwise(op=EltOp.ADD, dtype=DType.INT8, rows=1, cols=draw(st.integers(1, 60)),
                           a=draw(st.integers(0, 48)), b=draw(st.integers(0, 48)), out=draw(st.integers(0, 48)))
        if kind == 2:
            return MatMul(m=2, k=draw(st.integers(1, 8)), n=2, a=draw(st.integers(0, 48)), b=draw(st.integers(0, 48)),
                          c=draw(st.integers(0, 48)), dtype=DType.INT8)
        return Sync()

    def block(depth: int) -> list[Instr]:
        out: list[Instr] = []
        for _ in range(draw(st.integers(1, 4))):
            if depth < 2 and draw(st.booleans()):
                out += [Loop(n=draw(st.integers(0, 5))), *block(depth + 1), EndLoop()]
            else:
                out.append(leaf())
        return out

    return tuple(block(0))


def _ends(code: tuple[Instr, ...], unroll: bool) -> list[int]:
    model = CostModel(ARCH, 1 << 16)
    costs = [model.cost(i, i.reads(), i.writes()) for i in code]
    facts = Facts([int(c.unit) for c in costs], [c.cycles for c in costs], [c.dram for c in costs])
    positions = flow.expand(flow.blocks(code))
    tree = positions.tolist() if unroll else flow.blocks(code)
    dist = distances(tree, facts.unit, Ranges.of([i.reads() for i in code], [i.writes() for i in code]),
                     np.array([isinstance(i, Sync) for i in code], dtype=bool))
    cuts = np.flatnonzero([isinstance(code[s], Sync) for s in positions.tolist()]).astype(np.int64)
    lo, hi = np.concatenate(([0], cuts + 1))[:, None], np.append(cuts, len(positions))[:, None]
    done = schedule_streams([facts], [positions], [dist], lo, hi)  # epoch by epoch, as ``timing`` does
    ends, start = [], 0
    for block in range(len(lo)):
        ends += [start + end for end in done.end[done.slot(block, 0)].tolist()]
        start += max(0, int(done.stats.last_end[block, 0].max()))
    return ends


@settings(max_examples=200, deadline=None)
@given(looped_programs())
def test_loop_shortcut_equals_full_unrolling(code: tuple[Instr, ...]) -> None:
    assert _ends(code, unroll=False) == _ends(code, unroll=True)


# --- distinct epochs: found by hashing each core's slice, checked, with a byte-wise fallback -------

def _cores(code: tuple[Instr, ...]) -> list:
    program = Program(code=(code,), dram_size=1 << 16)
    trees = [flow.blocks(c) for c in program.code]
    stream = flow.streams(program, trees)[0]
    return [timing._prepare(program, 0, trees[0], stream, CostModel(ARCH, 1 << 16))]


@settings(max_examples=100, deadline=None)
@given(looped_programs())
def test_distinct_epochs_equal_a_bytewise_comparison(code: tuple[Instr, ...]) -> None:
    cores = _cores(code)
    bounds = np.array([cores[0].bounds], dtype=np.int64)
    lo, hi = (bounds[:, :-1] + 1).T, bounds[:, 1:].T
    want = timing._distinct_by_bytes(cores, lo, hi)
    got = timing._distinct(cores, lo, hi)
    assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()


def test_a_hash_collision_falls_back_to_comparing_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Epochs of one size hash alike when every weight is 0: the check catches it (an epoch is its
    static instructions: the loop's ``a`` is not the first ``a``)."""
    a = Move(src=Loc(D, 0), dst=Loc(N, 0), shape=(1, 1, 8))
    b = Move(src=Loc(D, 64), dst=Loc(N, 64), shape=(1, 1, 8))
    code = (a, Sync(), b, Sync(), Loop(n=3), a, Sync(), EndLoop())
    cores = _cores(code)
    bounds = np.array([cores[0].bounds], dtype=np.int64)
    lo, hi = (bounds[:, :-1] + 1).T, bounds[:, 1:].T
    monkeypatch.setattr(timing, "_hash_weights", lambda n: np.zeros(n, dtype=np.uint64))
    which, firsts = timing._distinct(cores, lo, hi)
    assert which.tolist() == [0, 1, 2, 2, 2, 3] and firsts.tolist() == [0, 1, 2, 5]
    assert cycles_of(*code) == cycles_of(a, Sync(), b, Sync(), a, Sync(), a, Sync(), a, Sync())
