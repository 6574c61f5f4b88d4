"""What every layer emitter receives and returns, and the epilogues they share.

An emitter turns one IR node into one C function (``Layer.lines``) and registers the constant
arrays it reads (weights, biases, multipliers, tables) in ``LayerCtx.consts``, which becomes the
weights header. ``Layer.loops`` describes its pipelined loops so the estimate follows the very
pragmas emitted: each entry is (trips of the loops around a PIPELINE II=1 loop, trips of that
loop, multipliers its body needs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aics.backends.hls.cgen import Buf, const_array, value_ctype
from aics.errors import UnsupportedOpError
from aics.ir.graph import Node
from aics.ir.quant import QuantParams
from aics.numerics import quantize_multiplier
from aics.reference import qtensor as Q
from aics.reference.qtensor import QuantView

PIPELINE = "#pragma HLS PIPELINE II=1"


@dataclass(frozen=True)
class Loop:
    outer: int  # trips of the loops enclosing the pipelined loop
    inner: int  # trips of the pipelined loop (or perfect nest, which HLS flattens)
    mults: int = 0  # multipliers in the pipelined body (DSPs)


@dataclass(frozen=True)
class Layer:
    lines: list[str]
    loops: tuple[Loop, ...]
    buffer_bits: int = 0  # on-chip buffers local to the layer (line buffers)


@dataclass
class LayerCtx:
    node: Node
    fn: str  # the C function's name, also the prefix of its constants
    ins: list[Buf]
    out: Buf
    view: QuantView
    consts: dict[str, str] = field(default_factory=dict)  # name -> declaration
    const_bits: dict[str, int] = field(default_factory=dict)  # name -> on-chip bits

    def const(self, suffix: str, values: np.ndarray, ctype: str | None = None) -> str:
        """Register a constant array and return its C name."""
        arr = np.asarray(values, dtype=np.int64)
        ctype = ctype or value_ctype(int(arr.min(initial=0)), int(arr.max(initial=0)))
        name = f"{self.fn}_{suffix}"
        self.consts[name] = const_array(name, ctype, arr)
        self.const_bits[name] = arr.size * int(ctype[3:-2])
        return name

    def header(self) -> str:
        params = ", ".join([b.param(f"in{k}" if len(self.ins) > 1 else "in") for k, b in enumerate(self.ins)]
                           + [self.out.param("out")])
        return f"static void {self.fn}({params}) {{"

    def unsupported(self, why: str) -> UnsupportedOpError:
        where = f" ({self.node.source})" if self.node.source else ""
        return UnsupportedOpError(f"HLS backend cannot emit {self.node.op} node '{self.node.name}'{where}: {why}")


def is_fixed(qp: QuantParams) -> bool:
    return qp.dtype == "fixed"


def fixed_args(qp: QuantParams) -> str:
    """``width, rnd, sat`` of a fixed-point output, as the kernel helpers take them."""
    assert qp.fixed is not None
    f = qp.fixed
    return f"{f.width}, {int(f.rounding == 'rnd')}, {int(f.overflow == 'sat')}"


def code_bounds(qp: QuantParams) -> tuple[int, int]:
    return Q.code_range(qp)


def convert_expr(value: str, src: QuantParams, dst: QuantParams, ctx: LayerCtx) -> str:
    """C expression converting a code of ``src`` to ``dst`` (``qtensor.convert``)."""
    if src == dst:
        return value
    if is_fixed(src) and is_fixed(dst):
        assert src.fixed is not None and dst.fixed is not None
        return f"aics_fixed_cast({value}, {src.fixed.frac - dst.fixed.frac}, {fixed_args(dst)})"
    if is_fixed(src) or is_fixed(dst):
        raise ctx.unsupported("its input and output mix affine and fixed-point codes")
    a, o = Q.affine(src), Q.affine(dst)
    lo, hi = code_bounds(src)
    k = Q.preshift(hi - lo)
    mult, shift = quantize_multiplier(a.scale / o.scale / 2.0**k)
    olo, ohi = code_bounds(dst)
    return f"aics_rescale((int64_t){value} - {a.zero_point}, {k}, {mult}, {shift}, {o.zero_point}, {olo}, {ohi})"
