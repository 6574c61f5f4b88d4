"""Torch DataLoaders and calibration subsets over prepared arrays, seeded so runs repeat exactly."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from aics.errors import DataError


def check_arrays(x: np.ndarray, y: np.ndarray | None = None, what: str = "data") -> None:
    """Empty, non-finite or mislabelled data raise ``DataError`` before any work starts."""
    if len(x) == 0:
        raise DataError(f"{what}: dataset is empty")
    if y is not None and len(y) != len(x):
        raise DataError(f"{what}: {len(x)} inputs but {len(y)} labels")
    if not np.all(np.isfinite(x)):
        raise DataError(f"{what}: inputs contain NaN or Inf")


def make_loader(x: np.ndarray, y: np.ndarray, batch_size: int = 64, shuffle: bool = False,
                seed: int = 0) -> DataLoader:
    """A loader whose shuffling order depends only on ``seed`` (its own generator, no global RNG)."""
    check_arrays(x, y)
    if batch_size < 1:
        raise DataError(f"batch size must be positive, got {batch_size}")
    ds = TensorDataset(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.asarray(y)))
    return DataLoader(ds, batch_size=batch_size, shuffle=shuffle,
                      generator=torch.Generator().manual_seed(seed) if shuffle else None)


def calibration_subset(x: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """``count`` examples drawn without replacement (all of them when there are fewer), in a fixed
    order: calibration sees the same data on every run."""
    check_arrays(x, what="calibration data")
    if count < 1:
        raise DataError(f"calibration needs at least one example, got {count}")
    if count >= len(x):
        return x
    idx = np.sort(np.random.default_rng(seed).choice(len(x), size=count, replace=False))
    return x[idx]


def padded_batches(x: np.ndarray, batch: int) -> list[tuple[np.ndarray, int]]:
    """Split ``x`` into batches of exactly ``batch`` examples for graphs with a fixed batch size;
    the last one is filled up cyclically with earlier examples (real data, so ranges observed on
    it stay true). Each item is (batch, number of genuine examples at its start)."""
    check_arrays(x, what="data")
    out = []
    for start in range(0, len(x), batch):
        chunk = x[start:start + batch]
        valid = len(chunk)
        if valid < batch:
            chunk = np.concatenate([chunk, np.resize(x, (batch - valid, *x.shape[1:]))])
        out.append((chunk, valid))
    return out
