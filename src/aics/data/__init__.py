"""Real data available offline, prepared for training, calibration and accuracy checks.

Only scikit-learn's bundled digits for now (``--data digits``); ``load_dataset`` is where other
datasets plug in.
"""

from __future__ import annotations

from aics.data.digits import NUM_CLASSES, SIZES, DigitsConfig, Split, config_for_shape, load_digits
from aics.data.loaders import calibration_subset, check_arrays, make_loader, padded_batches
from aics.errors import DataError

DATASETS = ("digits",)


def load_dataset(name: str, input_shape: tuple[int, ...], size: int | None = None) -> Split:
    """Dataset ``name`` prepared for a model taking ``input_shape`` (``size`` overrides its side)."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset '{name}' (available: {', '.join(DATASETS)})")
    return load_digits(config_for_shape(input_shape, size))


__all__ = [
    "DATASETS", "NUM_CLASSES", "SIZES", "DigitsConfig", "Split", "calibration_subset", "check_arrays",
    "config_for_shape", "load_dataset", "load_digits", "make_loader", "padded_batches",
]
