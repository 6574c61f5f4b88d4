"""How the integer executor represents tensors: codes, conversions, constants, resolved params.

A tensor is held as integer codes (int8/int16/int32 affine, or ``FixedType`` codes) when its
``QuantParams`` is integer, else as float32. The conversions used between representations:

* ``quantize`` (float32 -> codes): affine ``sat(round_half_even(x / scale) + zp)`` (``kernels.cast``,
  the same as ONNX QuantizeLinear); fixed ``FixedType.quantize`` (its rounding and overflow);
* ``to_real`` (codes -> float32): ``float32(q - zp) * float32(scale)`` (``kernels.cast``);
  fixed ``float32(q) * 2**-frac``;
* ``convert`` (codes -> codes of other params): affine -> affine is RQ(q - zp_in, s_in / s_out)
  (``requantizer``: ``kernels.rescale``, TFLite ADD's input stage; nothing when the params are
  equal); fixed -> fixed is ``FixedType.cast``; affine <-> fixed goes through float32.

Constants (weights): data stored as integers are codes already; float data with integer params
are quantized here, affine weights rounding half away from zero per channel and saturating to
the symmetric range [-127, 127] (int8) / [-32767, 32767] (int16) when their zero point is 0
(TFLite), fixed weights with their ``FixedType``. ``quantized_consts`` gives the compiler the very
same codes.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from aics.errors import DataError, QuantizationError
from aics.ir.graph import Graph, Node
from aics.ir.ops import DATA_MOVEMENT
from aics.ir.quant import QuantParams
from aics.numerics import dtype_range, kernels, quantize_multipliers, round_half_away
from aics.numerics.lut import Affine, Rep

INT_DTYPES = ("int8", "int16", "int32")
MAX_FIXED_WIDTH = 16  # products of two codes and their sums stay exact in int64 / float64
# Ops whose missing QuantParams default to their (common) input's: they move or select values.
INHERITING = DATA_MOVEMENT | {"max_pool2d", "relu", "relu6", "clip", "resize"}


def is_integer(qp: QuantParams | None) -> bool:
    return qp is not None and (qp.dtype in INT_DTYPES or qp.dtype == "fixed")


def family(qp: QuantParams | None) -> str:
    """``"int"`` (affine), ``"fixed"`` or ``"float"``."""
    if qp is None or not is_integer(qp):
        return "float"
    return "fixed" if qp.dtype == "fixed" else "int"


def rep(qp: QuantParams) -> Rep:
    """The per-tensor representation of ``qp`` (``Affine`` or ``FixedType``)."""
    if qp.dtype == "fixed":
        assert qp.fixed is not None
        return qp.fixed
    assert not qp.per_channel, "per-channel params reach only weighted ops"
    return Affine(qp.scale[0], qp.zero_point[0], qp.dtype)


def affine(qp: QuantParams) -> Affine:
    """The per-tensor affine representation of int8/int16/int32 params."""
    r = rep(qp)
    if not isinstance(r, Affine):
        raise QuantizationError(f"expected affine integer params, got {qp.dtype}")
    return r


def code_range(qp: QuantParams) -> tuple[int, int]:
    if qp.dtype == "fixed":
        assert qp.fixed is not None
        return qp.fixed.min_code, qp.fixed.max_code
    return dtype_range(qp.dtype)


def code_dtype(qp: QuantParams) -> np.dtype:
    """The smallest numpy integer dtype holding every code of ``qp``."""
    lo, hi = code_range(qp)
    for kind in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64):
        info = np.iinfo(kind)
        if info.min <= lo and hi <= info.max:
            return np.dtype(kind)
    raise QuantizationError(f"no integer dtype holds codes [{lo}, {hi}]")


def as_codes(x: np.ndarray, qp: QuantParams) -> np.ndarray:
    return np.asarray(x).astype(code_dtype(qp), copy=False)


def check_codes(x: np.ndarray, qp: QuantParams, where: str) -> np.ndarray:
    lo, hi = code_range(qp)
    if x.size and (x.min() < lo or x.max() > hi):
        raise DataError(f"{where}: codes outside [{lo}, {hi}] of {qp.dtype}")
    return x


def channel_shape(qp: QuantParams, ndim: int) -> tuple[int, ...]:
    """The shape that broadcasts per-channel params of ``qp`` over a rank-``ndim`` tensor."""
    shape = [1] * ndim
    if qp.per_channel:
        assert qp.axis is not None
        shape[qp.axis] = len(qp.scale)
    return tuple(shape)


def quantize(x: np.ndarray, qp: QuantParams) -> np.ndarray:
    """float32 -> codes of a per-tensor ``qp`` (half to even for affine, see module docstring)."""
    if qp.dtype == "fixed":
        assert qp.fixed is not None
        return as_codes(qp.fixed.quantize(x), qp)
    r = affine(qp)
    return kernels.cast(x, "fp32", qp.dtype, r.scale, r.zero_point, "half_even")


def to_real(x: np.ndarray, qp: QuantParams | None) -> np.ndarray:
    """codes -> float32 (per channel where ``qp`` is); float tensors pass through."""
    if not is_integer(qp):
        return x if x.dtype.kind in "iu" else x.astype(np.float32, copy=False)
    assert qp is not None
    if qp.dtype == "fixed":
        assert qp.fixed is not None
        return x.astype(np.float32) * np.float32(qp.fixed.lsb)
    if not qp.per_channel:
        return kernels.cast(x, qp.dtype, "fp32", qp.scale[0], qp.zero_point[0])
    shape = channel_shape(qp, x.ndim)
    zp = np.asarray(qp.zero_point, dtype=np.int64).reshape(shape)
    scale = np.asarray(qp.scale, dtype=np.float32).reshape(shape)
    return (x.astype(np.int64) - zp).astype(np.float32) * scale


def preshift(bound: int) -> int:
    """The left shift k (at most 20, TFLite ADD's) keeping |acc| << k below 2**30 for |acc| <= bound."""
    return max(0, min(20, 30 - int(bound).bit_length()))


def requantizer(ratio: float | np.ndarray, bound: int, out: QuantParams) -> Callable[[np.ndarray], np.ndarray]:
    """RQ(acc, ratio): centred accumulators (|acc| <= ``bound``, real step ``ratio * s_out``) to codes of
    ``out``: ``kernels.rescale(acc, 0, k, M(ratio / 2**k), zp_out)`` with k = ``preshift(bound)``.

    Shifting the accumulator left first (TFLite ADD's trick) makes the fixed-point multiply's
    intermediate rounding negligible, so the result is the real value rounded to nearest, ties
    away from zero (except within ~2**-20 of a tie). ``ratio`` may be an array (one per element)."""
    o = affine(out)
    k = preshift(bound)
    mult, shift = quantize_multipliers(np.asarray(ratio, dtype=np.float64) / 2.0**k)
    lo, hi = code_range(out)
    # ``kernels.rescale`` broadcasts array multipliers (one per distinct divisor of a pool)
    return lambda acc: kernels.rescale(np.asarray(acc, dtype=np.int64), 0, k, mult, shift,  # type: ignore[arg-type]
                                       o.zero_point, lo, hi, out.dtype)


def convert(x: np.ndarray, src: QuantParams, dst: QuantParams) -> np.ndarray:
    """Codes of ``src`` -> codes of ``dst`` (see module docstring); equal params copy nothing."""
    if src == dst:
        return x
    if src.dtype == "fixed" and dst.dtype == "fixed":
        assert src.fixed is not None and dst.fixed is not None
        return as_codes(dst.fixed.cast(x, src.fixed.frac), dst)
    if family(src) == family(dst) == "int":
        a = affine(src)
        lo, hi = code_range(src)
        rq = requantizer(a.scale / affine(dst).scale, hi - lo, dst)
        return rq(x.astype(np.int64) - a.zero_point)
    return quantize(to_real(x, src), dst)


def quantize_const(data: np.ndarray, qp: QuantParams, where: str) -> np.ndarray:
    """Float weights -> codes (per channel allowed); integer data are taken as codes."""
    if data.dtype.kind in "iu":
        return as_codes(check_codes(data, qp, where), qp)
    if qp.dtype == "fixed":
        assert qp.fixed is not None
        return as_codes(qp.fixed.quantize(data), qp)
    shape = channel_shape(qp, data.ndim)
    scale = np.asarray(qp.scale, dtype=np.float64).reshape(shape)
    zp = np.asarray(qp.zero_point, dtype=np.int64).reshape(shape)
    lo, hi = dtype_range(qp.dtype)
    if not any(qp.zero_point):
        lo = -hi  # symmetric weights use the narrow range
    q = round_half_away(data.astype(np.float64) / scale) + zp
    return as_codes(np.clip(q, lo, hi), qp)


def float_const(graph: Graph, name: str) -> np.ndarray:
    data = np.asarray(graph.params[name])
    return data if data.dtype.kind in "iu" else data.astype(np.float32)


class QuantView:
    """``Graph.quant`` resolved for execution: every tensor's representation and constants."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._resolved: dict[str, QuantParams | None] = {}
        self._consts: dict[str, np.ndarray] = {}

    def qp(self, name: str) -> QuantParams | None:
        """The tensor's ``QuantParams``; None for float tensors and integer token ids."""
        if name not in self._resolved:
            self._resolved[name] = self._resolve(self.graph[name])
        return self._resolved[name]

    def _resolve(self, node: Node) -> QuantParams | None:
        qp = self.graph.quant.get(node.name)
        if qp is not None:
            if qp.dtype not in (*INT_DTYPES, "fixed", "float32"):
                raise QuantizationError(f"node '{node.name}': unknown quantized dtype {qp.dtype!r}")
            if qp.per_channel and node.op != "const":
                raise QuantizationError(f"node '{node.name}': per-channel params are only supported on constants")
            if qp.fixed is not None and qp.fixed.width > MAX_FIXED_WIDTH:
                raise QuantizationError(f"node '{node.name}': {qp.fixed.ap_type()} is wider than "
                                        f"{MAX_FIXED_WIDTH} bits (the integer reference's limit)")
            return qp if is_integer(qp) else None
        if node.op == "const" or not node.dtype.startswith("float"):
            return None
        if node.op in INHERITING:
            ins = {self.qp(i) for i in node.inputs}
            if len(ins) == 1:
                return ins.pop()
            raise QuantizationError(f"node '{node.name}' ({node.op}) has no quantization parameters "
                                    "and its inputs' params differ")
        raise QuantizationError(f"node '{node.name}' ({node.op}) has no quantization parameters; "
                                "annotate it in Graph.quant (QuantParams('float32') keeps it float)")

    def const(self, name: str) -> np.ndarray:
        """A constant as the executor holds it: codes where it has integer params, else float32."""
        if name not in self._consts:
            qp = self.qp(name)
            self._consts[name] = (float_const(self.graph, name) if qp is None else
                                  quantize_const(np.asarray(self.graph.params[name]), qp, f"const '{name}'"))
        return self._consts[name]


def quantized_consts(graph: Graph) -> Mapping[str, np.ndarray]:
    """The codes of every constant with integer params, exactly as the integer executor uses them
    (biases of conv/linear come from ``aics.reference.int_ops.bias_codes``)."""
    view = QuantView(graph)
    return {n.name: view.const(n.name) for n in graph.nodes if n.op == "const" and view.qp(n.name) is not None}
