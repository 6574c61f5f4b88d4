"""Integer softmax: the recipe the reference executor, the DLP's vector unit and HLS C share.

For a row of integer codes ``q`` (any representation with real step ``scale`` per code):

1. ``d = max(q) - q``: non-negative integers, below the number of codes ``span``;
2. ``e = exp_table[d]`` with ``exp_table[k] = round_half_away(exp(-scale * k) * 2**15)``
   (built once on the host; the row maximum maps to 32768);
3. ``total = sum(e)`` over the row;
4. ``p = rounding_divide(e * 2**15, total)``: the probabilities in Q0.15 (nearest, ties away).

Every value fits int32 (``e * 2**15 <= 2**30``) while a row has fewer than 2**16 elements.

The caller then brings ``p`` (real value ``p * 2**-15``) to the output representation with one
requantisation (``requantize`` with multiplier ``2**-15 / scale_out``) or ``FixedType.cast``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from aics.numerics.fixedpoint import round_half_away, rounding_divide

EXP_FRAC = 15
PROB_FRAC = 15


def exp_table(scale: float, span: int) -> NDArray[np.int64]:
    """``round_half_away(exp(-scale * k) * 2**EXP_FRAC)`` for k in [0, span)."""
    k = np.arange(span, dtype=np.float64)
    return round_half_away(np.exp(-scale * k) * float(1 << EXP_FRAC)).astype(np.int64)


def softmax_q15(codes: NDArray[np.integer], table: NDArray[np.int64], axis: int = -1) -> NDArray[np.int64]:
    """Steps 1-4 of the module docstring along ``axis``: probabilities in Q0.15 (int64 array)."""
    q = np.asarray(codes, dtype=np.int64)
    e = table[q.max(axis=axis, keepdims=True) - q]
    total = e.sum(axis=axis, keepdims=True)
    return rounding_divide(e << PROB_FRAC, total)
