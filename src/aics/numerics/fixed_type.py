"""Fixed-point formats Qm.n with the quantisation, rounding and overflow rules of HLS ``ap_fixed``.

A ``FixedType(width, frac)`` value is an integer code ``c`` standing for ``c * 2**-frac``; it
equals ``ap_fixed<width, width - frac, Q, O>`` (``ap_ufixed`` when unsigned) with

* ``rounding="trn"`` = ``AP_TRN``: drop the extra bits, i.e. round toward minus infinity;
* ``rounding="rnd"`` = ``AP_RND``: round to nearest, ties toward plus infinity;
* ``overflow="wrap"`` = ``AP_WRAP``: keep the low ``width`` bits (two's complement);
* ``overflow="sat"`` = ``AP_SAT``: clamp to the most negative / most positive code.

Rounding happens first, then overflow, as in ``ap_fixed`` assignment. Codes are int64 arrays, so
``width`` is limited to 32 bits (products of two codes still fit in int64).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from aics.errors import QuantizationError

Overflow = Literal["wrap", "sat"]
Rounding = Literal["trn", "rnd"]


@dataclass(frozen=True)
class FixedType:
    """``width`` bits, ``frac`` of them fractional (Q(width-frac).frac; ``frac`` may exceed width)."""

    width: int
    frac: int
    signed: bool = True
    overflow: Overflow = "wrap"
    rounding: Rounding = "trn"

    def __post_init__(self) -> None:
        if not 1 <= self.width <= 32:
            raise QuantizationError(f"fixed-point width must be in [1, 32], got {self.width}")
        if self.overflow not in ("wrap", "sat"):
            raise QuantizationError(f"fixed-point overflow must be wrap or sat, got {self.overflow!r}")
        if self.rounding not in ("trn", "rnd"):
            raise QuantizationError(f"fixed-point rounding must be trn or rnd, got {self.rounding!r}")

    @property
    def int_bits(self) -> int:
        """Integer bits including the sign bit: the ``I`` of ``ap_fixed<W, I>``."""
        return self.width - self.frac

    @property
    def min_code(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_code(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def lsb(self) -> float:
        """The real value of one code step, ``2**-frac``."""
        return float(np.ldexp(1.0, -self.frac))

    def quantize(self, x: ArrayLike) -> NDArray[np.int64]:
        """Real values to codes: scale by ``2**frac``, round, then wrap or saturate."""
        v = np.ldexp(np.asarray(x, dtype=np.float64), self.frac)
        if not np.all(np.isfinite(v)):
            raise QuantizationError("cannot quantize NaN or infinite values to fixed point")
        low = np.floor(v)
        # v - floor(v) is exact, so the tie test below is exact (no v + 0.5 rounding error).
        rounded = low + (v - low >= 0.5) if self.rounding == "rnd" else low
        return self._overflow_float(rounded)

    def to_real(self, codes: ArrayLike) -> NDArray[np.float64]:
        """Codes to the real values they stand for."""
        return np.ldexp(np.asarray(codes, dtype=np.float64), -self.frac)

    def cast(self, codes: ArrayLike, frac: int) -> NDArray[np.int64]:
        """Codes of a format with ``frac`` fractional bits to this format (``ap_fixed`` assignment)."""
        c = np.asarray(codes, dtype=np.int64)
        drop = frac - self.frac
        if drop > 0:
            if self.rounding == "rnd":
                c = c + (np.int64(1) << np.int64(drop - 1))
            c = c >> np.int64(drop)
        elif drop < 0:
            if self.overflow == "sat":  # codes past this bound saturate anyway; keeps the shift inside int64
                bound = np.int64(1) << np.int64(max(62 + drop, 0))
                c = np.clip(c, -bound, bound)
            c = c << np.int64(-drop)  # wrap: the low bits are exact even if the shift overflows
        return self.apply_overflow(c)

    def apply_overflow(self, codes: ArrayLike) -> NDArray[np.int64]:
        """Wrap or saturate integer codes into this format's range."""
        c = np.asarray(codes, dtype=np.int64)
        if self.overflow == "sat":
            return np.clip(c, self.min_code, self.max_code)
        span = np.int64(1) << np.int64(self.width)
        return ((c - self.min_code) & (span - 1)) + self.min_code

    def ap_type(self) -> str:
        """The HLS C++ spelling, e.g. ``ap_fixed<8,2,AP_RND,AP_SAT>``."""
        base = "ap_fixed" if self.signed else "ap_ufixed"
        modes = "" if (self.rounding, self.overflow) == ("trn", "wrap") else (
            f",{'AP_RND' if self.rounding == 'rnd' else 'AP_TRN'},"
            f"{'AP_SAT' if self.overflow == 'sat' else 'AP_WRAP'}")
        return f"{base}<{self.width},{self.int_bits}{modes}>"

    def _overflow_float(self, rounded: NDArray[np.float64]) -> NDArray[np.int64]:
        # Overflow is applied while still in float64: the values may exceed int64, and fmod of an
        # integer-valued float by a power of two is exact.
        if self.overflow == "sat":
            return np.clip(rounded, self.min_code, self.max_code).astype(np.int64)
        span = float(1 << self.width)
        low = np.mod(rounded, span)  # exact; subtracting min_code first could round past 2**53
        return np.where(low > self.max_code, low - span, low).astype(np.int64)
