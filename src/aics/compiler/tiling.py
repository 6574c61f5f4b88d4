"""Tile choice for weighted layers by a DRAM-traffic cost model.

A conv layer (input C x H x W, output O x Ho x Wo, G groups) is cut into tiles of ``o_t`` output
channels x ``th`` output rows (full width). A tile needs, on chip:

* NRAM: its input rows (``c_t`` channels x ``h_in`` rows x W, halo included; ``c_t = C`` when
  G = 1, else the channels of its groups), its int32 accumulator (``o_t * th * Wo * 4``) and its
  int8 result (``o_t * th * Wo``), each twice when double buffered, plus the layer's per-channel
  bias / multiplier / shift tables (``12 * O`` bytes, resident);
* WRAM: its weights (``o_t * C/G * kh * kw``), twice when double buffered (once, with loads and
  compute taking turns, when only one tile fits: a grouped conv's smallest tile is a whole group).

A grouped conv's tile runs either as one GEMM per group or, when cheaper, as one block-diagonal
GEMM over all the tile's input channels (``ConvTiling.dense``: zero weights off the groups' blocks;
depthwise layers gain up to an order of magnitude on a 32-wide array, see ``_o_options``). A
depthwise tile may instead run on the vector unit (``ConvTiling.vector``: the ``dwconv``
instruction, one MAC per lane per cycle, weights in NRAM), where no MAC is wasted on zeros; its
requant then shares the vector unit, so its time counts too.

Two loop orders are considered. ``o_outer`` keeps a weight tile resident while the row tiles
stream through (weights read once, the input read once per output-channel tile when G = 1);
``rows_outer`` keeps an input tile resident while the weight tiles stream (input read once,
weights once per row tile). A buffer that is loaded only once is not doubled.

Model. For each candidate (o_t, th, order) that fits::

    dram_cycles   = traffic_bytes / (bytes per cycle) + transfers * dram latency
    matrix_cycles = tiles * gemm_cost(th * Wo, C/G * kh * kw, o_t / G...)   (systolic model)
    exposed       = first tile's weight + input loads + last tile's store (3 latencies + bytes)
    estimate      = max(dram_cycles, matrix_cycles + exposed)

On several cores the tiles are shared out (contiguous shares, one per core), so matrix time is that of
the largest share, while the one DRAM channel carries every core's traffic.

(DMA and compute overlap thanks to double buffering, so the slower side bounds the layer, except
at the ends of the pipeline: nothing computes before the first tile is in, nor stores after the
last is computed, which is why one tile holding the whole layer rarely wins; each transfer also
holds the DRAM channel for its latency.) Estimates within 2% of the best count as a tie, which
goes to the least DRAM traffic (it contends with the weight prefetch in ways the model does not
see), then to fewer tiles. When no candidate fits, the smallest
tile (one group of output channels, one output row) is reported in a ``CompileError`` that names
the layer, the buffer and the bytes it needs.

Linear layers (``M x K`` activations, ``N`` outputs) are tiled along N: the activations stay
resident in NRAM, weight tiles ``K x n_t`` stream through WRAM, double buffered; when a tile as
wide as the array does not fit, K is chunked too (``linear_tiling``); on several cores a tile is at
most one core's share of N, so every core gets work.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from math import ceil

from aics.dlp.arch import Arch
from aics.dlp.systolic import gemm_cost
from aics.compiler.memory import align
from aics.errors import CompileError


@dataclass(frozen=True)
class ConvShape:
    c: int
    h: int
    w: int
    o: int
    ho: int
    wo: int
    kh: int
    kw: int
    stride: tuple[int, int]
    dilation: tuple[int, int]
    groups: int
    in_bytes: int = 1  # element size of activations and weights (int8: 1)

    @property
    def opg(self) -> int:
        return self.o // self.groups

    @property
    def cpg(self) -> int:
        return self.c // self.groups

    def h_in(self, th: int) -> int:
        """Input rows a tile of ``th`` output rows reads (halo included, at most H)."""
        return min(self.h, (th - 1) * self.stride[0] + (self.kh - 1) * self.dilation[0] + 1)

    def c_in(self, o_t: int) -> int:
        return self.c if self.groups == 1 else o_t // self.opg * self.cpg


@dataclass(frozen=True)
class ConvTiling:
    o_t: int
    th: int
    order: str  # "o_outer" or "rows_outer"
    weight_bufs: int  # 1 or 2
    input_bufs: int
    estimate: int  # cycles the model predicts
    traffic: int  # DRAM bytes the model predicts
    dense: bool = False  # a grouped conv run as one block-diagonal conv per tile (``dense_weight_tiles``)
    vector: bool = False  # a depthwise conv run on the vector unit (``dwconv``), weights in NRAM

    def o_tiles(self, shape: ConvShape) -> list[tuple[int, int]]:
        return [(o, min(self.o_t, shape.o - o)) for o in range(0, shape.o, self.o_t)]

    def row_tiles(self, shape: ConvShape) -> list[tuple[int, int]]:
        return [(y, min(self.th, shape.ho - y)) for y in range(0, shape.ho, self.th)]


def _o_candidates(shape: ConvShape, cols: int) -> list[int]:
    """Powers of two times the unit (one group, or one channel when G = 1), and O itself; the
    array width ``cols`` and its multiples are among them when O allows."""
    base = shape.opg if shape.groups > 1 else 1
    out, k = set(), 1
    while base * k < shape.o:
        out.add(base * k)
        k *= 2
    out.add(shape.o)
    return sorted(out)


def _o_options(shape: ConvShape, cols: int, allow_dense: bool) -> list[tuple[int, bool, bool]]:
    """(output channels per tile, dense, vector) candidates: a grouped conv may also run each tile
    as one block-diagonal conv over all the tile's input channels (zeros off the diagonal blocks),
    which fills the array's columns at the price of wasted MACs (a depthwise 3x3 tile of 32
    channels: one GEMM with K = 288, N = 32 instead of 32 GEMMs with K = 9, N = 1); a depthwise
    conv may also run on the vector unit."""
    plain = [(o_t, False, False) for o_t in _o_candidates(shape, cols)]
    if not allow_dense or shape.groups == 1:
        return plain
    dense = [(o_t, True, False) for o_t in _o_candidates(shape, cols) if o_t > shape.opg]
    depthwise = shape.cpg == 1 and shape.opg == 1
    return plain + dense + ([(o_t, False, True) for o_t in _o_candidates(shape, cols)] if depthwise else [])


def _th_candidates(ho: int) -> list[int]:
    return sorted({ceil(ho / n) for n in range(1, ho + 1)})


def conv_tiling(layer: str, shape: ConvShape, arch: Arch, nram_reserved: int, epilogue_bytes: int = 0,
                allow_dense: bool = False) -> ConvTiling:
    """The cheapest tiling of ``shape`` under the module's model (``nram_reserved``: resident tables;
    ``epilogue_bytes``: extra NRAM per output element of a fused residual add, per buffer set;
    ``allow_dense``: the caller can lay out block-diagonal weight tiles for grouped convs and run
    depthwise tiles on the vector unit)."""
    nram, wram = arch.memory.nram_kib * 1024 - nram_reserved, arch.memory.wram_kib * 1024
    bpc = Fraction(str(arch.dram.bandwidth_gbps)) / Fraction(str(arch.frequency_ghz))
    latency = arch.dram.latency_cycles
    es = shape.in_bytes
    options: list[tuple[int, int, int, ConvTiling]] = []  # (estimate, traffic, tiles, tiling)
    k = shape.cpg * shape.kh * shape.kw
    vec = arch.vector
    mac_rate = vec.ops_per_cycle.get(f"MAC_{8 * es}", vec.lanes)
    rq_rate = vec.ops_per_cycle.get("REQUANT", vec.lanes)
    for o_t, dense, vector in _o_options(shape, arch.matrix.cols, allow_dense):
        n_o = ceil(shape.o / o_t)
        c_t = shape.c_in(o_t)
        k_t = c_t * shape.kh * shape.kw if dense else k  # weights per output channel of a tile
        w_tile = o_t * k_t * es
        for th in _th_candidates(shape.ho):
            n_r = ceil(shape.ho / th)
            in_tile = c_t * shape.h_in(th) * shape.w * es
            acc, res = o_t * th * shape.wo * 4, o_t * th * shape.wo * es
            extra = o_t * th * shape.wo * epilogue_bytes
            in_once = sum(shape.c * shape.h_in(t) * shape.w * es for _, t in _rows(shape.ho, th))
            w_total = shape.o * k_t * es
            out_total = shape.o * shape.ho * shape.wo * es * (2 if epilogue_bytes else 1)
            if vector:  # the MACs and then the requant, both on the vector unit
                per_tile = ceil(o_t * th * shape.wo * k / mac_rate) + ceil(o_t * th * shape.wo / rq_rate)
            elif dense or shape.groups == 1:
                per_tile = gemm_cost(arch.matrix, th * shape.wo, k_t, o_t).cycles
            else:  # one GEMM per group of the tile, in sequence
                per_tile = gemm_cost(arch.matrix, th * shape.wo, k, shape.opg).cycles * (o_t // shape.opg)
            tiles = n_o * n_r
            matrix = ceil(tiles / min(arch.cores, tiles)) * per_tile  # tiles shared by cores
            for order in ("o_outer", "rows_outer"):
                if order == "o_outer":
                    w_bufs = 1 if n_o == 1 else 2
                    i_bufs = 1 if n_r == 1 and (n_o == 1 or shape.groups == 1) else 2
                    in_loads = 1 if (n_r == 1 and shape.groups == 1) else n_o * n_r
                    traffic = w_total + (in_once if shape.groups > 1 or n_r == 1 else in_once * n_o)
                    moves = n_o + in_loads + n_o * n_r
                else:
                    if n_o == 1 or n_r == 1:
                        continue  # same as o_outer
                    w_bufs, i_bufs = 2, 2
                    traffic = w_total * n_r + in_once
                    moves = n_o * n_r + n_r + n_o * n_r
                traffic += out_total
                single = w_bufs == 2 and not vector and 2 * align(w_tile) > wram >= align(w_tile)
                if single:  # one weight buffer: each weight tile's load waits for the previous tile's compute
                    w_bufs = 1
                w_need = w_bufs * align(w_tile)
                if not vector and w_need > wram:
                    continue
                if i_bufs * align(in_tile) + 2 * (align(acc) + align(res) + 3 * align(extra // 3 + 1)) \
                        + (w_need if vector else 0) > nram:
                    continue
                dram = int(traffic / bpc) + moves * latency
                # the first tile's loads and the last tile's store overlap no compute
                exposed = 3 * latency + int((w_tile + in_tile + res) / bpc)
                est = dram + matrix if single else max(dram, matrix + exposed)
                options.append((est, traffic, n_o * n_r,
                                ConvTiling(o_t, th, order, w_bufs, i_bufs, est, traffic, dense, vector)))
    if not options:
        _too_big(layer, shape, nram, wram)
    # estimates within 2% are a tie (the model is not that exact): then less DRAM traffic, fewer tiles
    fastest = min(o[0] for o in options)
    return min((o for o in options if o[0] <= fastest * 1.02), key=lambda o: o[1:3])[3]


def _rows(ho: int, th: int) -> list[tuple[int, int]]:
    return [(y, min(th, ho - y)) for y in range(0, ho, th)]


def _too_big(layer: str, shape: ConvShape, nram: int, wram: int) -> None:
    o_t = shape.opg if shape.groups > 1 else 1
    es = shape.in_bytes
    w_need = o_t * shape.cpg * shape.kh * shape.kw * es
    if w_need > wram:
        raise CompileError(f"layer '{layer}': the smallest weight tile ({o_t} output channel(s)) needs "
                           f"{w_need:,} bytes of WRAM, the arch has {wram:,}")
    n_need = shape.c_in(o_t) * shape.h_in(1) * shape.w * es + o_t * shape.wo * (4 + es)
    raise CompileError(f"layer '{layer}': the smallest tile (1 output row, {o_t} output channel(s)) needs "
                       f"{n_need:,} bytes of NRAM, {nram:,} are free")


@dataclass(frozen=True)
class LinearTiling:
    n_t: int
    weight_bufs: int
    k_t: int  # K chunk: the accumulators add ``ceil(K / k_t)`` matmuls (``k_t = K``: one)
    m_t: int = 0  # rows of the input resident at a time (0: all of them)


def linear_tiling(layer: str, m: int, k: int, n: int, arch: Arch, nram_reserved: int, es: int = 1
                  ) -> LinearTiling:
    """``_linear_tiling`` for all ``m`` input rows at once or, when they do not fit NRAM with a
    tile, for the most rows that do (halving): each block of rows is then a linear of its own,
    streaming every weight tile again (ViT-B's 197 x 3072 MLP input needs 605 KB)."""
    m_t = m
    while True:
        try:
            tiling = _linear_tiling(layer, m_t, k, n, arch, nram_reserved, es)
        except CompileError:
            if m_t == 1:
                raise
            m_t = -(-m_t // 2)
            continue
        return tiling if m_t == m else replace(tiling, m_t=m_t)


def _linear_tiling(layer: str, m: int, k: int, n: int, arch: Arch, nram_reserved: int, es: int = 1
                   ) -> LinearTiling:
    """The N tile with the shortest pipelined time whose double-buffered weights and results fit
    (activations resident).

    Weight tiles stream through WRAM while the previous tile's matmul runs, so ``T`` tiles take
    ``load + (T - 1) * max(load, matmul) + matmul`` (one tile: its load, then its matmul): a
    single tile holding all of N is the slowest way to run a layer whose weights fit at once.
    Tiles are multiples of the array width (``cols``), which costs no extra folds. A tile narrower
    than the array wastes columns for all K cycles of its fold, so when full-K weight tiles that
    wide do not fit WRAM, K is cut into chunks instead (accumulating matmuls) to keep ``n_t`` at
    the array width."""
    nram, wram = arch.memory.nram_kib * 1024 - nram_reserved, arch.memory.wram_kib * 1024
    free = nram - align(m * k * es)
    if free < 0:
        raise CompileError(f"layer '{layer}': its input ({m}x{k}) needs {m * k * es:,} bytes of NRAM, "
                           f"{nram:,} are free")
    cols = arch.matrix.cols

    def fits(n_t: int, k_t: int) -> bool:
        bufs = 1 if n_t == n and k_t == k else 2
        return bufs * align(k_t * n_t * es) <= wram and bufs * (align(m * n_t * 4) + align(m * n_t * es)) <= free

    bpc = Fraction(str(arch.dram.bandwidth_gbps)) / Fraction(str(arch.frequency_ghz))

    def pipelined(n_t: int) -> int:
        tiles = ceil(n / n_t)
        cores = min(arch.cores, tiles)  # the cores' loads share the one DRAM channel
        load = arch.dram.latency_cycles + ceil(k * n_t * es / bpc)
        mm = gemm_cost(arch.matrix, m, k, n_t).cycles
        return load * cores + (ceil(tiles / cores) - 1) * max(load * cores, mm) + mm

    # Tiles are shared out over the cores: with several cores, no tile wider than one core's share
    # (rounded up to the array width), else one wide tile would leave the other cores idle.
    share = n if arch.cores == 1 else max(cols, align(-(-n // arch.cores), cols))
    candidates = sorted({min(n, share)} | {min(n, share, cols * j) for j in range(1, -(-n // cols) + 1)}
                        | {min(n, share, cols * 2**i) for i in range(16)} | {min(n, 2**i) for i in range(6)},
                        reverse=True)
    wide = [n_t for n_t in candidates if n_t >= min(n, cols) and fits(n_t, k)]
    if wide:
        n_t = min(wide, key=lambda t: (pipelined(t), -t))
        return LinearTiling(n_t, 1 if n_t == n else 2, k)
    n_t = min(n, cols)
    k_max = (wram // (2 * n_t)) // 64 * 64
    # equal chunks: a short last chunk would leave the DMA of the next long one waiting on its buffer
    k_t = min(k_max, align(-(-k // -(-k // max(k_max, 1))), 64)) if k_max >= 64 else 0
    if k_t >= 64 and fits(n_t, k_t):
        return LinearTiling(n_t, 2, k_t)
    for n_t in candidates:
        if fits(n_t, k):
            return LinearTiling(n_t, 1 if n_t == n else 2, k)
    if k * es > wram:
        raise CompileError(f"layer '{layer}': one weight column needs {k * es:,} bytes of WRAM, "
                           f"the arch has {wram:,}")
    raise CompileError(f"layer '{layer}': the smallest tile (1 output) needs {m * (4 + es):,} bytes of "
                       f"NRAM beyond its input, {max(free, 0):,} are free")
