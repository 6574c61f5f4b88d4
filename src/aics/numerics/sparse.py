"""The bitmap sparse format shared by the pruner's size accounting and the DLP's sparse DMA.

A tensor of ``n`` values is stored as ``ceil(n / 8)`` bytes of presence bits (bit i of the stream,
little bit order within each byte, says whether value i is non-zero) followed by the non-zero
values in order. The DLP's ``load_sparse`` reads exactly these bytes from DRAM and writes the dense
tensor on chip (exercise 7.10: sparse weights cut DMA bytes, not MACs).
"""

from __future__ import annotations

import numpy as np


def encode_bitmap(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(packed bitmap as uint8, little bit order; non-zero values in row-major order)."""
    flat = w.ravel()
    present = flat != 0
    return np.packbits(present, bitorder="little"), flat[present]


def decode_bitmap(bitmap: np.ndarray, values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    present = np.unpackbits(bitmap, count=n, bitorder="little").astype(bool)
    out = np.zeros(n, dtype=values.dtype)
    out[present] = values
    return out.reshape(shape)


def bitmap_bytes(n: int, nnz: int, elem_bytes: int = 1) -> int:
    """Encoded size of ``n`` values with ``nnz`` non-zeros."""
    return (n + 7) // 8 + nnz * elem_bytes


def bitmap_blob(w: np.ndarray) -> bytes:
    """The bytes the DLP's sparse DMA reads: presence bits, then the non-zero values."""
    bitmap, values = encode_bitmap(w)
    return bitmap.tobytes() + np.ascontiguousarray(values).tobytes()
