"""Activations kept in NRAM between layers (``compiler.onchip``): placement by lifetime above the
layers' own buffers, the DMA rewrite, and whole programs that stay bit-exact while moving fewer
DRAM bytes."""

from __future__ import annotations

from aics.compiler.compile import compile_graph
from aics.compiler.onchip import place_in_nram
from aics.compiler.workflow import quantized_model, simulate
from aics.dlp.arch_io import load_arch
from aics.dlp.isa import DType, Loc, MatMul, Move, Space, Unit

D, N = Space.DRAM, Space.NRAM


def _store(tag: int, nram: int, dram: int, n: int) -> Move:
    return Move(src=Loc(N, nram), dst=Loc(D, dram), shape=(1, 1, n), tag=tag)


def _load(tag: int, dram: int, nram: int, n: int) -> Move:
    return Move(src=Loc(D, dram), dst=Loc(N, nram), shape=(1, 1, n), tag=tag)


REGIONS = {"a": (0x10000, 0x10400), "b": (0x20000, 0x20400), "c": (0x30000, 0x30400)}  # 1 KiB each
# a: layers 1-2, b: 2-3, c: 3-4; 0x40000 is not movable (a graph output, say)
CODE = [_store(1, 0, 0x10000, 1024), _load(2, 0x10000 + 64, 0, 512), _store(2, 0, 0x20000, 1024),
        _load(3, 0x20000, 0, 1024), _store(3, 0, 0x30000, 1024), _load(4, 0x30000, 0, 1024), _store(4, 0, 0x40000, 8)]


def test_tensors_share_nram_only_when_their_lifetimes_do_not_overlap() -> None:
    spans = {t: (0, 1024) for t in (1, 2, 3, 4)}  # each layer's own buffers: the first KiB
    out, placed = place_in_nram(CODE, REGIONS, spans, nram=3072)
    assert placed == {"a": 1024, "b": 2048, "c": 1024}  # c reuses a's bytes: a's last reader is layer 2
    assert Loc(N, 1024) in (i.dst for i in out) and Loc(N, 1024 + 64) in (i.src for i in out)
    assert out[-1] == CODE[-1]  # not movable: stays a DRAM store
    assert sum(i.unit == Unit.STORE for i in out) == 1


def test_a_layer_that_fills_nram_keeps_its_operands_in_dram() -> None:
    spans = {1: (0, 1024), 2: (0, 3072), 3: (2048, 3072), 4: (0, 1024)}  # layer 2 needs all of NRAM
    _, placed = place_in_nram(CODE, REGIONS, spans, nram=3072)
    assert placed == {"c": 1024}  # a and b live through layer 2; c fits between layers 3 and 4's buffers


def test_a_copy_into_nram_waits_behind_the_next_tiles_loads() -> None:
    """A store that became an NRAM -> NRAM copy runs on the load unit: it moves after the loads
    that follow it (the next tile's prefetch), not past one it conflicts with."""
    mm = MatMul(m=1, k=64, n=16, a=0, b=0, c=4096, dtype=DType.INT8, tag=1)
    code = [_load(1, 0x50000, 0, 64), mm, _store(1, 4096, 0x10000, 64), _load(1, 0x50040, 64, 64),
            _load(1, 0x50080, 4096, 64), _load(2, 0x10000, 128, 64)]
    out, placed = place_in_nram(code, {"a": (0x10000, 0x10040)}, {1: (0, 8192), 2: (0, 8192)}, nram=16384)
    copy = next(i for i in out if isinstance(i, Move) and i.src == Loc(N, 4096) and i.dst.space == N)
    # past the independent prefetch, not past the load that overwrites its source
    assert out.index(copy) == 3 and out[2] == code[3] and out[4] == code[4]


def test_lenet5_keeps_its_activations_on_chip_and_stays_exact() -> None:
    q, arch = quantized_model("lenet5"), load_arch("edge-int8")
    dram_only = simulate(q, arch, seed=1, keep_on_chip=False)
    cached = simulate(q, arch, seed=1)
    assert dram_only.report["bit_exact"] and cached.report["bit_exact"]
    code = cached.compiled.program.code[0]
    assert any(isinstance(i, Move) and i.src.space == N and i.dst.space == N for i in code)
    assert cached.report["dram_bytes"] < dram_only.report["dram_bytes"]
    assert cached.report["cycles"] < dram_only.report["cycles"]
    spans = [info.nram_span for info in cached.compiled.layers]
    assert all(0 <= lo <= hi <= 512 * 1024 for lo, hi in spans)
    assert spans[0][0] == 0 and spans[1][1] == 512 * 1024  # consecutive layers use opposite ends of NRAM


def test_several_cores_keep_activations_in_dram() -> None:
    code = compile_graph(quantized_model("lenet5"), load_arch("edge-int8-4core")).program.code
    assert not any(isinstance(i, Move) and i.src.space == N and i.dst.space == N for core in code for i in core)
