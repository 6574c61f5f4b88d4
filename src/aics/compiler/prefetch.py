"""Prefetch constants: a program -> program reordering of each layer's loads.

The DMA-load unit runs its instructions in program order. A layer typically loads its input
activations before (some of) its weights and tables, and the input load waits for the previous
layer to have written that input; every constant load queued behind it waits too, although the
constants were in DRAM from the start. This pass moves each load of a constant (a ``move`` whose
source lies in the DRAM image's constant part) ahead of the activation loads (and NRAM copies)
just before it, the previous layer's included, as long as it does not depend on any of them
(``isa.dependent``). It passes only load-unit instructions, so it never crosses a compute, a
``sync`` or another constant load: the order of everything else, and every dependence, is as the
lowering emitted it. (Consecutive layers use opposite ends of NRAM and WRAM, ``memory.Arena``, so
the next layer's constants rarely depend on the current layer's buffers.)
"""

from __future__ import annotations

from aics.dlp.isa import Instr, LoadSparse, Move, Space, Unit, dependent


def prefetch_constants(code: list[Instr], const_end: int) -> list[Instr]:
    """``code`` with constant loads hoisted above the activation loads before them (``const_end``:
    the first DRAM byte after the constants)."""
    out: list[Instr] = []
    for instr in code:
        at = len(out)
        if _constant_load(instr, const_end):
            while at > 0 and out[at - 1].unit == Unit.LOAD and not _constant_load(out[at - 1], const_end) \
                    and not dependent(out[at - 1], instr):
                at -= 1
        out.insert(at, instr)
    return out


def _constant_load(instr: Instr, const_end: int) -> bool:
    src = instr.src if isinstance(instr, (Move, LoadSparse)) else None
    return src is not None and src.addr is not None and src.space == Space.DRAM and src.addr < const_end \
        and instr.unit == Unit.LOAD

