"""Calibration observers: each turns the values a tensor took on calibration data into the real
range ``(lo, hi)`` its integer codes will cover. One method each, so adding a criterion is one class.

``values`` is a 1-D float array (the calibration module subsamples huge tensors but always keeps
the true extremes); ``levels`` is the number of integer codes (256 for int8), which only the MSE
observer needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aics.errors import QuantizationError


@dataclass(frozen=True)
class MinMaxObserver:
    """The full observed range: nothing clips, outliers stretch the step (TFLite's default)."""

    def __call__(self, values: np.ndarray, levels: int) -> tuple[float, float]:
        return float(values.min()), float(values.max())


@dataclass(frozen=True)
class PercentileObserver:
    """Clip the rarest tails: ``percentile`` of the values on the high side, its mirror on the low."""

    percentile: float = 99.99

    def __call__(self, values: np.ndarray, levels: int) -> tuple[float, float]:
        lo, hi = np.percentile(values, [100.0 - self.percentile, self.percentile])
        return float(lo), float(hi)


@dataclass(frozen=True)
class MseObserver:
    """The clipping range that minimises the mean squared quantization error of the values: shrink
    the min-max range by factors in (``min_factor``, 1] and keep the best (ties: the wider range)."""

    steps: int = 64
    min_factor: float = 0.3

    def __call__(self, values: np.ndarray, levels: int) -> tuple[float, float]:
        lo0, hi0 = float(values.min()), float(values.max())
        best, best_err = (lo0, hi0), np.inf
        for f in np.linspace(1.0, self.min_factor, self.steps):
            lo, hi = lo0 * f, hi0 * f
            err = float(np.mean((_fake_quant(values, lo, hi, levels) - values) ** 2))
            if err < best_err:
                best, best_err = (lo, hi), err
        return best


def _fake_quant(x: np.ndarray, lo: float, hi: float, levels: int) -> np.ndarray:
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / (levels - 1) or 1.0
    zp = np.round(-lo / scale)
    return (np.clip(np.round(x / scale) + zp, 0, levels - 1) - zp) * scale


OBSERVERS = {"minmax": MinMaxObserver, "percentile": PercentileObserver, "mse": MseObserver}


def make_observer(name: str) -> MinMaxObserver | PercentileObserver | MseObserver:
    if name not in OBSERVERS:
        raise QuantizationError(f"unknown calibration method '{name}' (choose from {', '.join(OBSERVERS)})")
    return OBSERVERS[name]()
