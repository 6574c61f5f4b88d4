"""A core's static code as arrays: per instruction its cost row, tag and byte ranges.

Why: a straight-line program of a million instructions is a million Python objects, and asking
each one for ``reads()``, ``writes()``, ``work()`` and then a cost took ~7 us. But an instruction's
ranges are its address fields plus lengths that depend only on its *other* fields, and its cost
depends only on those other fields too. So instructions are grouped by *shape* (class and
non-address fields, e.g. every ``matmul`` 64x256x64 int8): each distinct shape is decoded once,
through the ISA's own methods on probe instructions, into a template (which address field each
range starts at, and its length) and a ``Cost``; per instruction only its shape and its address
values are read, and its ranges follow from the template with a few numpy operations. The ISA
stays the one definition of ranges and work, and ``CostModel.cost`` the one definition of costs.
"""

from __future__ import annotations

import dataclasses
from itertools import chain, count
from operator import attrgetter, itemgetter
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from aics.dlp.encoding import EncodedCode, address_fields
from aics.dlp.isa import Instr, Loc
from aics.dlp.sim.costs import Cost, CostModel
from aics.dlp.sim.hazards import Ranges
from aics.errors import SimulationError

_MAX_ADDRESS = 1 << 55  # addresses and range ends stay below this: int64 range arithmetic with room to spare


@dataclasses.dataclass
class Decoded:
    """Static instructions of one core: ``shape[i]`` indexes ``costs`` and ``examples`` (an
    instruction of that shape: its fields but tag and addresses); ``ranges`` in owner order."""

    shape: np.ndarray
    costs: list[Cost]
    tag: np.ndarray
    ranges: Ranges
    examples: list[Instr]

    def column(self, name: str, dtype: Any = np.int64) -> np.ndarray:
        """One field of every instruction's ``Cost``, e.g. ``column("cycles")``."""
        per_shape = np.array([getattr(cost, name) for cost in self.costs], dtype=dtype)
        return per_shape[self.shape] if len(self.costs) else np.zeros(len(self.shape), dtype=dtype)


class _Layout:
    """How to read an instruction class: its shape key and its address values."""

    def __init__(self, cls: type[Instr]) -> None:
        self.addr_fields = address_fields(cls)
        addresses = {name for name, _ in self.addr_fields}
        shape_names = []  # every field but the tag and the addresses (of a Loc, its space)
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.metadata.get("kind") == "loc":
                shape_names.append(f"{f.name}.space")
            elif f.name != "tag" and f.name not in addresses:
                shape_names.append(f.name)
        self.shape_of = _getter(shape_names)
        self.addrs_of = _getter(["tag", *(f"{name}.addr" if loc else name for name, loc in self.addr_fields)])

    def probe(self, instr: Instr, values: Sequence[int]) -> Instr:
        """``instr`` with its address fields set to ``values`` (addresses it lacks stay None)."""
        changes: dict[str, Any] = {}
        for (name, loc), value in zip(self.addr_fields, values):
            if loc:
                old = getattr(instr, name)
                changes[name] = old if old.addr is None else Loc(old.space, value)
            else:
                changes[name] = value
        return dataclasses.replace(instr, **changes) if changes else instr


def _getter(names: list[str]) -> Callable[[Instr], tuple[Any, ...]]:
    if not names:
        return lambda instr: ()
    get = attrgetter(*names)
    return get if len(names) > 1 else lambda instr: (get(instr),)  # type: ignore[return-value]


_LAYOUTS: dict[type[Instr], _Layout] = {}


def _template(layout: _Layout, instr: Instr) -> list[tuple[int, int, int, int]]:
    """``(write, space, address field, length)`` of each range of ``instr``'s shape, found on two
    probes with distinct addresses (and checked to be the same on both)."""
    out = []
    for scale in (1, 1 << 20):
        probe = layout.probe(instr, [(i + 1) * scale for i in range(len(layout.addr_fields))])
        rows = [(w, int(space), s // scale - 1, e - s) for w, touched in ((0, probe.reads()), (1, probe.writes()))
                for space, s, e in touched]
        out.append(rows)
    if out[0] != out[1] or any(not 0 <= f < len(layout.addr_fields) for _, _, f, _ in out[0]):
        raise AssertionError(f"{type(instr).__name__}: ranges must start at an address field, lengths must "
                             f"not depend on addresses")
    return out[0]


def decode(code: Sequence[Instr], model: CostModel, core: int) -> Decoded:
    """Shapes, costs, tags and ranges of ``code``; a ``SimulationError`` naming the first
    instruction that cannot run on the arch (out-of-range address, no SharedRAM, ...)."""
    n = len(code)
    shape = np.zeros(n, dtype=np.int64)
    costs: list[Cost] = []
    shapes: list[Instr] = []
    bad: list[int] = []  # instructions known to fail (first of a failing shape, out of range)
    parts: list[tuple[np.ndarray, ...]] = []
    tag = np.zeros(n, dtype=np.int64)
    try:
        classes = list(_classes(code))
    except OverflowError:
        raise _first_error(code, model, core) from None
    for cls, rows, (values, local, examples) in classes:
        layout = _LAYOUTS.get(cls) or _LAYOUTS.setdefault(cls, _Layout(cls))
        tag[rows] = values[:, 0]
        templates: list[list[tuple[int, int, int, int]]] = []
        for rep in examples:
            zero = layout.probe(rep, [0] * len(layout.addr_fields))
            try:
                costs.append(model.cost(zero, zero.reads(), zero.writes()))
            except ValueError:
                costs.append(_NO_COST)
                bad.append(int(rows[np.argmax(local == len(templates))]))  # the shape's first instruction
            templates.append(_template(layout, rep))
        shape[rows] = local + (len(costs) - len(examples))
        shapes += examples
        parts.append(_ranges(rows, local, values[:, 1:], templates))
    ranges = _join(parts)
    sizes = np.array([min(size, _MAX_ADDRESS - 1) for size in model.sizes], dtype=np.int64)
    if bad or (ranges.end > sizes[ranges.space]).any():
        raise _first_error(code, model, core)
    return Decoded(shape, costs, tag, ranges, shapes)


_Group = tuple[np.ndarray, np.ndarray, Sequence[Instr]]  # values (tag, addresses), shape ids, one instruction per shape


def _classes(code: Sequence[Instr]) -> Iterator[tuple[type[Instr], np.ndarray, _Group]]:
    """Per instruction class of ``code``: its class, its instructions' indices and their ``_Group``
    (encoded code has these already; an address beyond int64 raises ``OverflowError``)."""
    if isinstance(code, EncodedCode):
        for cls, shapes in code.shapes.items():
            if (shapes.values >> np.uint64(63)).any():
                raise OverflowError
            yield cls, shapes.rows, (shapes.values.astype(np.int64), shapes.shape, shapes.examples)
        return
    n = len(code)
    types = list(map(type, code))
    classes = {cls: k for k, cls in enumerate(dict.fromkeys(types))}
    kind = np.fromiter(map(classes.__getitem__, types), dtype=np.int64, count=n) if len(classes) > 1 else None
    for cls, k in classes.items():
        layout = _LAYOUTS.get(cls) or _LAYOUTS.setdefault(cls, _Layout(cls))
        rows = np.arange(n) if kind is None else np.flatnonzero(kind == k)
        instrs = list(code) if kind is None else [code[rows[0]]] if len(rows) == 1 else itemgetter(*rows)(code)
        values, local, firsts = _group(layout, instrs)
        yield cls, rows, (values, local, [instrs[f] for f in firsts.tolist()])


def _group(layout: _Layout, instrs: Sequence[Instr]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For instructions of one class: their tags and address values (one row each, the tag
    first), their shape ids (dense, in order of first appearance) and each shape's first row."""
    m, width = len(instrs), 1 + len(layout.addr_fields)
    if width == 1:
        values = np.fromiter(map(_TAG, instrs), dtype=np.int64, count=m)
        keys: Any = map(layout.shape_of, instrs)
    else:
        try:
            values = np.fromiter(chain.from_iterable(map(layout.addrs_of, instrs)), dtype=np.int64, count=width * m)
            keys = map(layout.shape_of, instrs)
        except TypeError:  # textbook moves: no address; a shape of their own
            addrs = list(map(layout.addrs_of, instrs))
            values = np.fromiter((0 if a is None else a for a in chain.from_iterable(addrs)), dtype=np.int64,
                                 count=width * m)
            keys = [(*layout.shape_of(i), a[1] is None) for i, a in zip(instrs, addrs)]
    index: dict[tuple[Any, ...], int] = {}
    seen = np.fromiter(map(index.setdefault, keys, count()), dtype=np.int64, count=m)  # row of the shape's first
    firsts = np.flatnonzero(seen == np.arange(m))
    dense = np.empty(m, dtype=np.int64)
    dense[firsts] = np.arange(len(firsts))
    return values.reshape(m, width), dense[seen], firsts


_TAG = attrgetter("tag")


_NO_COST = Cost(*([0] * 8))  # type: ignore[arg-type]


def _ranges(rows: np.ndarray, local: np.ndarray, values: np.ndarray,
            templates: list[list[tuple[int, int, int, int]]]) -> tuple[np.ndarray, ...]:
    """The ranges of one class's instructions (``rows``, of shapes ``local``) from the templates."""
    width = max((len(t) for t in templates), default=0)
    if not width:
        return ()
    table = np.zeros((len(templates), width, 5), dtype=np.int64)  # valid, write, space, field, length
    for k, template in enumerate(templates):
        for r, (w, space, field, length) in enumerate(template):
            table[k, r] = (1, w, space, field, length)
    per = table[local]  # (instructions, width, 5)
    valid = per[:, :, 0].astype(bool)
    inst = np.broadcast_to(np.arange(len(rows))[:, None], valid.shape)[valid]
    write, space, field, length = (per[:, :, j][valid] for j in range(1, 5))
    start = values[inst, field]
    return rows[inst], space, start, start + length, write.astype(bool)


def _join(parts: list[tuple[np.ndarray, ...]]) -> Ranges:
    parts = [p for p in parts if p]
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Ranges(empty, empty, empty, empty, empty.astype(bool))
    owner, space, start, end, write = (np.concatenate(cols) for cols in zip(*parts))
    order = np.argsort(owner, kind="stable")
    return Ranges(owner[order], space[order], start[order], end[order], write[order])


def _first_error(code: Sequence[Instr], model: CostModel, core: int) -> SimulationError:
    """The error of the first instruction that cannot run, found the slow way (errors only)."""
    for index, instr in enumerate(code):
        try:
            reads, writes = instr.reads(), instr.writes()
            model.cost(instr, reads, writes)
            if any(e >= _MAX_ADDRESS for _, _, e in (*reads, *writes)):
                raise ValueError("addresses beyond 2**55 are not supported by the timing simulator")
        except ValueError as err:
            return SimulationError(f"core {core}, instruction {index} ({instr.MNEMONIC}): {err}")
    raise AssertionError("decode found a problem that no instruction has")
