"""Keep activations in NRAM between layers: a program -> program rewrite of its DMA.

Every layer is first lowered as if each activation lived in DRAM; its NRAM buffers take a span
at one end of NRAM (``LayerInfo.nram_span``: the tiling picks the tiles, this pass only uses what
they leave). Then, per runtime tensor with its own DRAM region (a view's bytes are its
base's, ``compiler.views``):

* its lifetime is the span of layers (tags) whose DMA touches its region;
* tensors are visited by first use and placed first-fit in NRAM outside the spans of the layers
  of their lifetime, sharing addresses only with tensors whose lifetime ended in an earlier
  layer; what does not fit stays in DRAM;
* every ``move`` side inside a placed region is rewritten to the same offset in the cache, so a
  store becomes an NRAM -> NRAM copy (``4 * lanes`` bytes a cycle, no DRAM latency) and a load
  reads on-chip bytes. Strides and shapes are unchanged, so the layer's code stays valid.

Graph inputs and outputs, and the operands of host-CPU layers (the host reads and writes DRAM),
always stay in DRAM. Only single-core programs use the cache: NRAM is per core, and a tensor
written by one core's share would be read by the others. The simulator orders a placed tensor's
reuse of cache bytes after the last reader of the previous tenant by address, as for any hazard.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import replace

from aics.compiler.memory import align
from aics.dlp.isa import Instr, Loc, Move, Space, Unit, dependent

Region = tuple[int, int]  # DRAM [start, end)


def place_in_nram(code: list[Instr], regions: dict[str, Region], spans: dict[int, Region], nram: int
                  ) -> tuple[list[Instr], dict[str, int]]:
    """``code`` with the DMA of the tensors that fit moved into NRAM, and the NRAM address of each
    moved tensor. ``regions``: the movable tensors' DRAM regions; ``spans``: per layer tag, the
    NRAM its own buffers take; ``nram``: the NRAM size."""
    starts = sorted((start, end, name) for name, (start, end) in regions.items())
    keys = [s for s, _, _ in starts]

    def owner(addr: int) -> str | None:
        k = bisect_right(keys, addr) - 1
        return starts[k][2] if k >= 0 and addr < starts[k][1] else None

    life: dict[str, list[int]] = {}
    for instr in code:
        if isinstance(instr, Move) and instr.src.addr is not None:
            for loc in (instr.src, instr.dst):
                name = owner(loc.addr) if loc.space == Space.DRAM else None
                if name is not None:
                    span = life.setdefault(name, [instr.tag, instr.tag])
                    span[0], span[1] = min(span[0], instr.tag), max(span[1], instr.tag)
    busy = {name: [spans[t] for t in range(first, last + 1) if t in spans] for name, (first, last) in life.items()}
    placed = _first_fit(sorted(life, key=lambda n: (life[n][0], n)), life, busy, regions, nram)
    if not placed:
        return code, {}

    def moved(loc: Loc) -> Loc:
        name = owner(loc.addr) if loc.space == Space.DRAM else None
        if name is None or name not in placed:
            return loc
        return Loc(Space.NRAM, placed[name] + loc.addr - regions[name][0])

    out = [replace(i, src=moved(i.src), dst=moved(i.dst))
           if isinstance(i, Move) and i.src.addr is not None else i for i in code]
    return _after_next_loads(out, [k for k, (a, b) in enumerate(zip(code, out)) if a.unit != b.unit]), placed


def _after_next_loads(code: list[Instr], late: list[int]) -> list[Instr]:
    """Move each instruction of ``late`` (stores that became NRAM -> NRAM copies, now queued on the
    load unit) after the run of load-unit instructions that follows it, stopping at the first one it
    conflicts with. In program order on one unit, the copy of tile i's result would otherwise hold
    back the prefetch of tile i+1 until tile i is computed: double buffering would be lost."""
    code = list(code)
    for k in reversed(late):
        store = code[k]
        j = k + 1
        while j < len(code) and code[j].unit == Unit.LOAD and not dependent(store, code[j]):
            j += 1
        code[k:j] = [*code[k + 1:j], store]
    return code



def _first_fit(order: list[str], life: dict[str, list[int]], busy: dict[str, list[Region]],
               regions: dict[str, Region], nram: int) -> dict[str, int]:
    placed: dict[str, int] = {}
    live: list[tuple[int, int, str]] = []  # (start, end, name) in NRAM
    for name in order:
        first, _ = life[name]
        live = [x for x in live if life[x[2]][1] >= first]  # a tenant whose last layer ended frees its bytes
        size = align(regions[name][1] - regions[name][0])
        at = 0
        for start, end in sorted([(s, e) for s, e, _ in live] + [b for b in busy[name] if b[1] > b[0]]):
            if at + size <= start:
                break
            at = max(at, align(end))
        if at + size <= nram:
            placed[name] = at
            live.append((at, at + size, name))
    return placed
