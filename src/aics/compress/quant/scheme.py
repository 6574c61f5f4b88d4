"""Numeric schemes a layer can be quantized to, parsed from the text users write.

=======================  ==============================================================
text                     meaning
=======================  ==============================================================
``int8``                 TFLite int8: per-channel symmetric int8 weights, asymmetric int8
                         activations, int32 bias
``int16``                TFLite's 16x8 mode: symmetric int16 activations (zero point 0, so
                         int8 x int16 products sum safely in int32), int8 weights
``int8:w4``              int8 storage, weights restricted to 4 bits ([-7, 7]); ``w2``..``w8``,
                         also ``int16:w4``
``fixed:Q2.6``           fixed point, m integer bits (sign included) and n fractional bits,
                         m + n <= 16 (``ap_fixed<m+n, m>``), wrap on overflow, truncate
``fixed:Q2.6:sat:rnd``   options in any order: ``wrap``/``sat`` and ``trn``/``rnd``
``float32``              the layer stays float (it will run on the host CPU)
=======================  ==============================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from aics.errors import QuantizationError
from aics.numerics import FixedType

MAX_FIXED_WIDTH = 16


def f32(value: float) -> float:
    """``value`` rounded to the nearest float32 (quantization scales are stored as float32)."""
    return float(np.float32(value))
_Q = re.compile(r"^[qQ](\d+)\.(\d+)$")


@dataclass(frozen=True)
class Scheme:
    kind: str  # "int", "fixed" or "float"
    bits: int = 8  # storage bits of activations (int) or total width (fixed)
    weight_bits: int = 8  # int: int8 weights using only [-(2**(wb-1) - 1), 2**(wb-1) - 1]
    fixed: FixedType | None = None

    @property
    def dtype(self) -> str:
        """The ``QuantParams.dtype`` of tensors in this scheme."""
        return {"int": f"int{self.bits}", "fixed": "fixed", "float": "float32"}[self.kind]

    @property
    def weight_dtype(self) -> str:
        return {"int": "int8", "fixed": "fixed", "float": "float32"}[self.kind]

    @property
    def act_range(self) -> tuple[int, int]:
        """Integer range of activations (int schemes)."""
        return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1

    def act_params(self, lo: float, hi: float) -> tuple[float, int]:
        """(scale, zero point) of an activation covering [lo, hi] widened to include 0: asymmetric
        for int8, symmetric (zero point 0) for int16. QAT and PTQ both use this. Scales are
        float32 values, as TFLite and ONNX store them, so exported models keep them exactly."""
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        qmin, qmax = self.act_range
        if self.bits == 16:
            amax = max(-lo, hi)
            return f32(amax / qmax if amax > 0 else 1.0), 0
        scale = f32((hi - lo) / (qmax - qmin) if hi > lo else 1.0)
        return scale, int(min(max(round(qmin - lo / scale), qmin), qmax))

    @property
    def weight_max(self) -> int:
        """Largest weight code: symmetric weights use [-weight_max, weight_max] (127 for int8)."""
        return (1 << (self.weight_bits - 1)) - 1

    def __str__(self) -> str:
        if self.kind == "float":
            return "float32"
        if self.kind == "fixed":
            assert self.fixed is not None
            f = self.fixed
            return f"fixed:Q{f.int_bits}.{f.frac}:{f.overflow}:{f.rounding}"
        return f"int{self.bits}" + (f":w{self.weight_bits}" if self.weight_bits != 8 else "")


def parse_scheme(text: str) -> Scheme:
    """``int8``, ``int16``, ``int8:w4``, ``fixed:Q2.6[:wrap|:sat][:trn|:rnd]`` or ``float32``;
    anything else raises ``QuantizationError`` naming the text."""
    parts = [p.strip() for p in str(text).strip().split(":")]
    head, opts = parts[0].lower(), parts[1:]
    if head in ("float32", "float", "fp32") and not opts:
        return Scheme("float", 32, 32)
    if head in ("int8", "int16"):
        bits = int(head[3:])
        if not opts:
            return Scheme("int", bits, 8)
        m = re.fullmatch(r"w(\d+)", opts[0].lower()) if len(opts) == 1 else None
        if m and 2 <= int(m.group(1)) <= 8:
            return Scheme("int", bits, int(m.group(1)))
        raise QuantizationError(f"bad quantization scheme '{text}': weight bits must be w2..w8, "
                                f"e.g. {head}:w4")
    if head == "fixed" and opts:
        return _parse_fixed(text, opts[0], [o.lower() for o in opts[1:]])
    raise QuantizationError(f"bad quantization scheme '{text}' (expected int8, int16, int8:w4, "
                            f"fixed:Q2.6[:wrap|:sat][:trn|:rnd] or float32)")


def _parse_fixed(text: str, fmt: str, opts: list[str]) -> Scheme:
    m = _Q.match(fmt)
    if m is None:
        raise QuantizationError(f"bad fixed-point format '{text}': expected Qm.n such as Q2.6")
    int_bits, frac = int(m.group(1)), int(m.group(2))
    width = int_bits + frac
    if not 1 <= width <= MAX_FIXED_WIDTH:
        raise QuantizationError(f"fixed-point format '{text}' has {width} bits; m + n must be in "
                                f"[1, {MAX_FIXED_WIDTH}]")
    overflow = [o for o in opts if o in ("wrap", "sat")]
    rounding = [o for o in opts if o in ("trn", "rnd")]
    unknown = [o for o in opts if o not in ("wrap", "sat", "trn", "rnd")]
    if unknown or len(overflow) > 1 or len(rounding) > 1:
        raise QuantizationError(f"bad fixed-point options in '{text}': use one of wrap/sat and one of "
                                f"trn/rnd")
    fixed = FixedType(width, frac, True, overflow[0] if overflow else "wrap",  # type: ignore[arg-type]
                      rounding[0] if rounding else "trn")  # type: ignore[arg-type]
    return Scheme("fixed", width, width, fixed)
