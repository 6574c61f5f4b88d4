"""Control flow shared by both simulators: loop expansion and the per-core sync structure.

Loops replay the same instructions (addresses do not change between iterations), so a core's
dynamic instruction stream is its static code with every ``loop N ... endloop`` body repeated N
times. Streams are lists of static indices into the core's code; ``loop``/``endloop`` are
dropped, ``sync`` stays (it is the barrier marker).
"""

from __future__ import annotations

from typing import Sequence, Union

from aics.dlp.isa import EndLoop, Instr, Loop, Sync
from aics.dlp.program import Program
from aics.errors import SimulationError

MAX_DYNAMIC = 16_000_000  # dynamic instructions per program; beyond this a run would not fit in memory

Block = list[Union[int, "LoopBlock"]]


class LoopBlock(tuple[int, Block]):
    """``(n, body)``: a loop of ``n`` iterations over ``body``."""


def blocks(code: Sequence[Instr]) -> Block:
    """The code as nested blocks: static indices and ``LoopBlock``s (loops must be balanced)."""
    stack: list[tuple[int, Block]] = [(1, [])]
    for index, instr in enumerate(code):
        if isinstance(instr, Loop):
            stack.append((instr.n, []))
        elif isinstance(instr, EndLoop):
            n, body = stack.pop()
            stack[-1][1].append(LoopBlock((n, body)))
        else:
            stack[-1][1].append(index)
    return stack[0][1]


def dynamic_count(block: Block) -> int:
    return sum(item[0] * dynamic_count(item[1]) if isinstance(item, LoopBlock) else 1 for item in block)


def expand(block: Block) -> list[int]:
    out: list[int] = []
    for item in block:
        if isinstance(item, LoopBlock):
            out.extend(expand(item[1]) * item[0])
        else:
            out.append(item)
    return out


def streams(program: Program) -> list[list[int]]:
    """The dynamic stream of every core, after checking the program can run at all."""
    trees = [blocks(code) for code in program.code]
    total = sum(dynamic_count(tree) for tree in trees)
    if total > MAX_DYNAMIC:
        raise SimulationError(f"the program expands to {total:,} instructions, more than the "
                              f"simulator's limit of {MAX_DYNAMIC:,}")
    out = [expand(tree) for tree in trees]
    syncs = {core: sum(isinstance(program.code[core][s], Sync) for s in stream)
             for core, stream in enumerate(out) if stream}
    if len(set(syncs.values())) > 1:
        counts = ", ".join(f"core {c}: {n}" for c, n in syncs.items())
        raise SimulationError(f"cores execute different numbers of sync ({counts}): the barrier would deadlock")
    return out
