"""Shared integer and fixed-point arithmetic: TFLite requantisation primitives, ``FixedType``
(HLS ``ap_fixed`` semantics) and the array kernels of the DLP's compute instructions."""

from aics.numerics.fixed_type import FixedType
from aics.numerics.fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    dtype_range,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    quantize_multipliers,
    requantize,
    round_half_away,
    round_half_even,
    rounding_divide,
    rounding_divide_by_pot,
    sat_rounding_doubling_high_mul,
    saturate,
    wrap,
)

__all__ = [
    "INT32_MAX", "INT32_MIN", "FixedType", "dtype_range", "multiply_by_quantized_multiplier",
    "quantize_multiplier", "quantize_multipliers", "requantize", "round_half_away", "round_half_even",
    "rounding_divide", "rounding_divide_by_pot", "sat_rounding_doubling_high_mul", "saturate", "wrap",
]
