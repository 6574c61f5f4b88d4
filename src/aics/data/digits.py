"""scikit-learn's bundled digits (1797 8x8 images, no download) prepared for our models.

The split is fixed (stratified 80/20, seed 0 unless asked otherwise), so every accuracy in the
project is measured on the same 360 test images: one image is 0.28 points. Upscaling is bilinear
(``torch.nn.functional.interpolate``, align_corners=False), deterministic on CPU; normalisation
uses the *training* mean and std so no test statistic leaks into the model or its quantization.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from aics.errors import DataError

SIZES = (8, 16, 28, 32)
NUM_CLASSES = 10


@dataclass(frozen=True)
class DigitsConfig:
    """How to prepare the digits; stored in checkpoints so evaluation later sees the same tensors.

    ``layout`` "image" gives (N, C, size, size); "flat" gives (N, C*size*size) for MLPs.
    """

    size: int = 8
    channels: int = 1
    layout: str = "image"
    test_fraction: float = 0.2
    split_seed: int = 0
    normalize: bool = True

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise DataError(f"digits: input size {self.size} not supported (choose from {list(SIZES)})")
        if self.channels not in (1, 3):
            raise DataError(f"digits: channels must be 1 or 3, got {self.channels}")
        if self.layout not in ("image", "flat"):
            raise DataError(f"digits: layout must be 'image' or 'flat', got {self.layout!r}")
        if not 0.0 < self.test_fraction < 1.0:
            raise DataError(f"digits: test fraction must be in (0, 1), got {self.test_fraction}")

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one example (without the batch dimension)."""
        if self.layout == "flat":
            return (self.channels * self.size * self.size,)
        return (self.channels, self.size, self.size)


@dataclass(frozen=True)
class Split:
    """Prepared arrays: x float32 in the model's layout, y int64 labels; mean/std from train."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    mean: float
    std: float
    config: DigitsConfig


def load_digits(config: DigitsConfig = DigitsConfig()) -> Split:
    """The digits split, upscaled, normalised and laid out as ``config`` says."""
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split

    raw = sk_digits()
    images = raw.images.astype(np.float32) / 16.0  # (1797, 8, 8) in [0, 1]
    labels = raw.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(images, labels, test_size=config.test_fraction,
                                              stratify=labels, random_state=config.split_seed)
    x_tr, x_te = _resize(x_tr, config.size), _resize(x_te, config.size)
    mean, std = (float(x_tr.mean()), float(x_tr.std())) if config.normalize else (0.0, 1.0)
    return Split(_layout((x_tr - mean) / std, config), y_tr, _layout((x_te - mean) / std, config), y_te,
                 mean, std, config)


def config_for_shape(input_shape: tuple[int, ...], size: int | None = None) -> DigitsConfig:
    """The digits preparation that fits a model input shape: (N, C, H, W) images with H == W, or
    (N, F) vectors with F = C * s * s (an MLP on flattened digits)."""
    dims = tuple(input_shape[1:])
    if len(dims) == 3 and dims[1] == dims[2] and dims[0] in (1, 3):
        return DigitsConfig(size=size or dims[1], channels=dims[0])
    if len(dims) == 1:
        for channels in (1, 3):
            side = int(round((dims[0] / channels) ** 0.5))
            if channels * side * side == dims[0] and side in SIZES and size in (None, side):
                return DigitsConfig(size=side, channels=channels, layout="flat")
    sized = f" at input size {size}" if size is not None else ""
    raise DataError(f"digits: cannot feed a model with input shape {'x'.join(map(str, input_shape))}{sized} "
                    f"(need Nx1xSxS, Nx3xSxS or NxF with F = S*S, S in {list(SIZES)})")


def _resize(images: np.ndarray, size: int) -> np.ndarray:
    t = torch.from_numpy(images).unsqueeze(1)
    if size != t.shape[-1]:
        t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
    return t.numpy()


def _layout(x: np.ndarray, config: DigitsConfig) -> np.ndarray:
    if config.channels == 3:
        x = np.repeat(x, 3, axis=1)
    if config.layout == "flat":
        x = x.reshape(len(x), -1)
    return np.ascontiguousarray(x, dtype=np.float32)
