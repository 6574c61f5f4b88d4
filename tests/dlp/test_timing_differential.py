"""Differential test of the timing simulator against figures recorded before its vectorisation.

``data/timing_baseline.json`` holds, for every program that ``programs()`` generates (seeded
random full-form code with overlapping addresses, nested loops, syncs, host barriers and several
cores; the textbook examples; small versions of the two ``bench/sim_speed.py`` programs), the
whole report (cycles, busy and stall cycles per unit, bytes, MACs, energy, layers) and a hash
of the trace, as the simulator *before* the vectorised rewrite computed them. Any change to a
cycle, a stall, a byte or a trace event fails here. Re-record only for an intended change of
the timing model: ``.venv/bin/python tests/dlp/test_timing_differential.py --record``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import pytest

from aics.dlp.arch import Arch, Dram, Energy, Memories, MatrixUnit, VectorUnit
from aics.dlp.arch_io import load_arch
from aics.dlp.asm import assemble
from aics.dlp.encoding import EncodedCode, encode_all
from aics.dlp.isa import (
    Bcast, Cast, Compute, ComputeType, Conv, DType, EltOp, Eltwise, EndLoop, HostCall, Instr, Loc, Loop, Lut,
    MatMul, Move, Pool, PoolMode, Reduce, ReduceOp, Requant, Rescale, Softmax, Space, Sync, Unary, UnaryOp,
)
from aics.dlp.program import HostOp, Program, dump_program, loads_program
from aics.dlp.sim.costs import CostModel
from aics.dlp.sim.decode import decode
from aics.dlp.sim.hazards import Ranges
from aics.dlp.sim.timing import simulate
from aics.errors import SimulationError

BASELINE = Path(__file__).parent / "data" / "timing_baseline.json"
EXAMPLES = Path(__file__).parents[2] / "examples" / "textbook"
D, S, N, W = Space.DRAM, Space.SRAM, Space.NRAM, Space.WRAM
ARCH = Arch(name="diff", cores=2, matrix=MatrixUnit(kind="ideal", macs_per_cycle={"int8": 256, "fp32": 64}),
            vector=VectorUnit(lanes=16, ops_per_cycle={"DIV_32": 2, "REQUANT": 8}),
            memory=Memories(nram_kib=64, wram_kib=64, sram_kib=64, sram_bandwidth_gbps=32.0),
            dram=Dram(bandwidth_gbps=16.0, latency_cycles=10),
            energy=Energy(pj_per_mac={"int8": 0.5}, pj_per_vector_op=0.25,
                          pj_per_byte={"dram": 10.0, "sram": 2.0, "nram": 1.0, "wram": 1.5}))


def _leaf(rng: random.Random, span: int, dram: bool) -> Instr:
    """One random full-form instruction whose operands fall in the first ``span`` bytes of each
    space, so that ranges overlap often (partially, nested, identically); ``dram``: mostly
    DRAM transfers (channel contention)."""
    a = lambda: rng.randrange(0, span)  # noqa: E731
    tag = rng.choice((0, 0, 1, 2, 3))
    kind = rng.choice((0, 1, 2, 3, 4, 6, 11)) if dram else rng.randrange(14)
    if kind < 4:
        src, dst = rng.choice(((D, N), (D, W), (N, D), (N, W), (W, N), (S, N), (N, S), (D, S), (N, N)))
        z, y, x = rng.randint(1, 2), rng.randint(1, 4), rng.randint(0, 40)
        strides = (y * x + rng.randrange(0, 16), x + rng.randrange(0, 8))
        return Move(src=Loc(src, a()), dst=Loc(dst, a()), shape=(z, y, x), tag=tag,
                    src_strides=strides if rng.random() < 0.5 else None)
    if kind == 4:
        return MatMul(m=rng.randint(1, 8), k=rng.randint(1, 16), n=rng.randint(1, 8), a=a(), b=a(), c=a(),
                      dtype=rng.choice((DType.INT8, DType.FP32)), accumulate=rng.random() < 0.5, tag=tag)
    if kind == 5:
        return Conv(c=2, h=rng.randint(3, 6), w=rng.randint(3, 6), o=2, kernel=(3, 3), inp=a(), wgt=a(), out=a(),
                    dtype=DType.INT8, groups=rng.choice((1, 2)), accumulate=rng.random() < 0.5, tag=tag)
    if kind == 6:
        return Eltwise(op=rng.choice(list(EltOp)), dtype=rng.choice((DType.INT8, DType.INT32)), rows=rng.randint(1, 8),
                       cols=rng.randint(1, 16), a=a(), b=a(), out=a(), bcast=rng.choice(list(Bcast)), tag=tag)
    if kind == 7:
        return Requant(rows=rng.randint(1, 8), cols=rng.randint(1, 8), src=a(), bias=a(), mult=a(), shift=a(), dst=a(),
                       dtype=DType.INT8, channel=rng.choice(list(Bcast)), tag=tag)
    if kind == 8:
        return rng.choice((
            Lut(n=rng.randint(1, 64), dtype=DType.INT8, src=a(), table=a(), dst=a(), tag=tag),
            Rescale(n=rng.randint(1, 64), src=a(), dst=a(), in_dtype=DType.INT8, dtype=DType.INT16, mult=1 << 20,
                    tag=tag),
            Cast(n=rng.randint(1, 64), src=a(), dst=a(), in_dtype=DType.INT8, dtype=DType.FP32, tag=tag),
            Unary(op=rng.choice(list(UnaryOp)), dtype=DType.FP16, n=rng.randint(1, 64), src=a(), dst=a(), tag=tag)))
    if kind == 9:
        return rng.choice((
            Pool(mode=rng.choice(list(PoolMode)), dtype=DType.INT8, c=2, h=4, w=4, kernel=(2, 2), src=a(), dst=a(),
                 stride=(2, 2), tag=tag),
            Reduce(op=rng.choice(list(ReduceOp)), dtype=DType.INT8, rows=rng.randint(1, 8), cols=rng.randint(1, 8),
                   axis=rng.randint(0, 1), src=a(), dst=a(), tag=tag),
            Softmax(rows=rng.randint(1, 4), cols=rng.randint(1, 16), dtype=DType.INT8, src=a(), table=a(), dst=a(),
                    tag=tag)))
    if kind == 10:
        return Compute(type=rng.choice(list(ComputeType)), num=rng.randint(0, 5000), tag=tag)
    if kind == 11:
        return Move.textbook(*rng.choice(((D, N), (N, D), (S, W), (N, W))), rng.randint(0, 3000), tag=tag)
    if kind == 12:
        return Sync()
    return MatMul(m=4, k=4, n=4, a=a(), b=a(), c=a(), dtype=DType.INT8, tag=tag)


def _block(rng: random.Random, depth: int, span: int, size: int, dram: bool) -> list[Instr]:
    out: list[Instr] = []
    for _ in range(rng.randint(1, size)):
        if depth < 2 and rng.random() < 0.15:
            out += [Loop(n=rng.choice((0, 1, 2, 3, 4, 7))), *_block(rng, depth + 1, span, 5, dram), EndLoop()]
        else:
            out.append(_leaf(rng, span, dram))
    return out


def _random_program(seed: int, dram: bool = False) -> Program:
    """One or two cores; with two, the same number of barriers on each (the k-th possibly a
    ``host`` barrier on both), placed outside loops. ``dram``: two cores, mostly DRAM transfers."""
    rng = random.Random(seed)
    cores = 2 if dram else rng.choice((1, 1, 2))
    span = rng.choice((64, 256, 4096))
    barriers = [rng.choice(("sync", "host")) for _ in range(rng.randint(0, 3))]
    code = []
    for _ in range(cores):
        pieces = [_block(rng, 0, span, 24 if dram else 12, dram) for _ in range(len(barriers) + 1)]
        core: list[Instr] = [i for i in pieces[0] if not isinstance(i, Sync) or cores == 1]
        for kind, piece in zip(barriers, pieces[1:]):
            core.append(HostCall(op=0, cycles=37, tag=4) if kind == "host" else Sync())
            core += [i for i in piece if not isinstance(i, Sync) or cores == 1]
        code.append(tuple(core))
    return Program(code=tuple(code), dram_size=1 << 16, layers={1: "a", 2: "b", 3: "c", 4: "host"},
                   host_ops=(HostOp("op", "", (), ()),))


def _bench_program(name: str, count: int) -> Program:
    """A program of ``bench/sim_speed.py`` (``full_form`` or ``textbook_loop``), ``count`` long."""
    spec = importlib.util.spec_from_file_location("sim_speed", Path(__file__).parents[2] / "bench" / "sim_speed.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return getattr(module, name)(count)


def programs() -> Iterator[tuple[str, Program, Arch]]:
    """Every program of the baseline, with a name and the arch it runs on."""
    edge = load_arch("edge-int8")
    for seed in range(120):
        yield f"random-{seed}", _random_program(seed), ARCH
    for seed in range(120, 140):  # edge-int8 has no SharedRAM: without those moves (one kept: an error)
        program = _random_program(seed)
        if program.cores == 1:
            code = tuple(i for i in program.code[0] if seed == 121 or not isinstance(i, Move) or S not in (
                i.src.space, i.dst.space))
            yield f"random-{seed}-edge", replace(program, code=(code,)), edge
    for seed in range(200, 260):
        yield f"dram-{seed}", _random_program(seed, dram=True), ARCH
    ok = Move(src=Loc(D, 0), dst=Loc(N, 0), shape=(1, 1, 64))
    for name, bad in (("nram-overflow", MatMul(m=64, k=64, n=64, a=0, b=0, c=60000, dtype=DType.INT8)),
                      ("huge-address", Move(src=Loc(D, 2**64 - 2), dst=Loc(N, 0), shape=(1, 1, 1))),
                      ("far-address", Move(src=Loc(D, 2**60), dst=Loc(N, 0), shape=(1, 1, 1)))):
        yield f"error-{name}", Program(code=((ok, Loop(n=2), ok, bad, EndLoop()),), dram_size=1 << 16), ARCH
    for path in sorted(EXAMPLES.glob("*.s")):
        arch = load_arch("textbook-7.11" if "7_11" in path.name or "7_12" in path.name else "textbook-7.7")
        yield f"textbook-{path.stem}", assemble(path.read_text()), arch
    yield "gemm-tiles", _bench_program("full_form", 2000), edge
    yield "textbook-loop", _bench_program("textbook_loop", 3000), edge


def _figures(program: Program, arch: Arch, trace: Path) -> dict[str, Any]:
    """The report without its arch, and the trace's hash; or the error, for a program the arch
    refuses (the message must not change either)."""
    try:
        report = simulate(program, arch, trace)
    except SimulationError as err:
        return {"error": str(err)}
    out = report.to_dict()
    del out["arch"]
    out["trace_sha256"] = hashlib.sha256(trace.read_bytes()).hexdigest()
    return out


def _record(path: Path) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        figures = {name: _figures(program, arch, Path(tmp) / "t.json") for name, program, arch in programs()}
    path.write_text(json.dumps(figures, indent=0, sort_keys=True) + "\n")


@pytest.fixture(scope="module")
def baseline() -> dict[str, Any]:
    return json.loads(BASELINE.read_text())


def test_baseline_covers_every_program(baseline: dict[str, Any]) -> None:
    assert sorted(baseline) == sorted(name for name, _, _ in programs())


@pytest.mark.parametrize("encoded", [False, True], ids=["objects", "encoded"])
@pytest.mark.parametrize("name,program,arch", list(programs()), ids=lambda x: x if isinstance(x, str) else "")
def test_reports_and_traces_equal_the_recorded_ones(name: str, program: Program, arch: Arch, encoded: bool,
                                                    baseline: dict[str, Any], tmp_path: Path) -> None:
    """Also as loaded from its file: the simulator then reads the encoded code without decoding it."""
    if encoded:
        program = loads_program(dump_program(program))
        assert all(isinstance(code, EncodedCode) for code in program.code)
    assert json.loads(json.dumps(_figures(program, arch, tmp_path / "t.json"))) == baseline[name]


@pytest.mark.parametrize("encoded", [False, True], ids=["objects", "encoded"])
@pytest.mark.parametrize("seed", range(0, 300, 10))
@pytest.mark.parametrize("dram", [False, True])
def test_decoded_ranges_and_costs_equal_the_instruction_methods(seed: int, dram: bool, encoded: bool) -> None:
    """``sim.decode`` reads each distinct shape once and derives every other instruction's ranges
    and cost from templates: check each instruction against its own methods."""
    program = _random_program(seed, dram)
    model = CostModel(ARCH, program.dram_size)
    for c, code in enumerate(program.code):
        decoded = decode(EncodedCode(encode_all(code)) if encoded else code, model, c)
        want = Ranges.of([i.reads() for i in code], [i.writes() for i in code])
        got = decoded.ranges
        columns = ("owner", "space", "start", "end", "write")
        assert sorted(zip(*(getattr(got, name).tolist() for name in columns))) == sorted(
            zip(*(getattr(want, name).tolist() for name in columns)))
        costs = [model.cost(i, i.reads(), i.writes()) for i in code]
        assert [decoded.costs[k] for k in decoded.shape.tolist()] == costs
        assert decoded.tag.tolist() == [i.tag for i in code]


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    _record(BASELINE)
