"""Control flow shared by both simulators: loop expansion and the per-core sync structure.

Loops replay the same instructions (addresses do not change between iterations), so a core's
dynamic instruction stream is its static code with every ``loop N ... endloop`` body repeated N
times. Streams are lists of static indices into the core's code; ``loop``/``endloop`` are
dropped, ``sync`` stays (it is the barrier marker).
"""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np

from aics.dlp.encoding import positions
from aics.dlp.isa import INSTRUCTIONS, EndLoop, Instr, Loop, Sync
from aics.dlp.program import Program
from aics.errors import SimulationError

MAX_DYNAMIC = 16_000_000  # dynamic instructions per program; beyond this a run would not fit in memory

Block = list[Union[int, range, "LoopBlock"]]
_SYNCS = tuple(cls for cls in INSTRUCTIONS if issubclass(cls, Sync))


class LoopBlock(tuple[int, Block]):
    """``(n, body)``: a loop of ``n`` iterations over ``body``."""


def blocks(code: Sequence[Instr]) -> Block:
    """The code as nested blocks of static indices (runs of them as ``range``s, so that
    straight-line code is one item, not a million) and ``LoopBlock``s (loops must be balanced)."""
    marks = positions(code, (Loop, EndLoop))
    stack: list[tuple[int, Block]] = [(1, [])]
    done = 0
    for index in marks:
        if index > done:
            stack[-1][1].append(range(done, index))
        instr = code[index]
        if isinstance(instr, Loop):
            stack.append((instr.n, []))
        else:
            n, body = stack.pop()
            stack[-1][1].append(LoopBlock((n, body)))
        done = index + 1
    if len(code) > done:
        stack[-1][1].append(range(done, len(code)))
    return stack[0][1]


def dynamic_count(block: Block) -> int:
    return sum(item[0] * dynamic_count(item[1]) if isinstance(item, LoopBlock) else
               len(item) if isinstance(item, range) else 1 for item in block)


def _running_count(code: Sequence[Instr]) -> np.ndarray:
    """``[0, syncs in code[:1], syncs in code[:2], ...]``."""
    flags = np.zeros(len(code), dtype=np.int64)
    flags[positions(code, _SYNCS)] = 1
    return np.concatenate(([0], np.cumsum(flags)))


def _count(block: Block, before: np.ndarray) -> int:
    """Dynamic count of the static instructions flagged in ``before`` (their running count)."""
    return sum(item[0] * _count(item[1], before) if isinstance(item, LoopBlock) else
               int(before[item.stop] - before[item.start]) if isinstance(item, range) else
               int(before[item + 1] - before[item]) for item in block)


def expand(block: Block) -> np.ndarray:
    """The dynamic stream of ``block``: static indices, every loop body repeated."""
    parts = [np.tile(expand(item[1]), item[0]) if isinstance(item, LoopBlock) else
             np.arange(item.start, item.stop, dtype=np.int64) if isinstance(item, range) else
             np.array([item], dtype=np.int64) for item in block]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def streams(program: Program, trees: Sequence[Block] | None = None) -> list[np.ndarray]:
    """The dynamic stream of every core, after checking the program can run at all (``trees``:
    the cores' ``blocks``, when the caller has them already)."""
    trees = [blocks(code) for code in program.code] if trees is None else trees
    total = sum(dynamic_count(tree) for tree in trees)
    if total > MAX_DYNAMIC:
        raise SimulationError(f"the program expands to {total:,} instructions, more than the "
                              f"simulator's limit of {MAX_DYNAMIC:,}")
    out = [expand(tree) for tree in trees]
    syncs = {core: _count(tree, _running_count(program.code[core])) for core, tree in enumerate(trees)
             if len(out[core])}
    if len(set(syncs.values())) > 1:
        counts = ", ".join(f"core {c}: {n}" for c, n in syncs.items())
        raise SimulationError(f"cores execute different numbers of sync ({counts}): the barrier would deadlock")
    return out
