"""Sparse weight storage the DLP can DMA instead of dense tensors (exercise 7.10).

Two encodings of a weight tensor W with shape (O, ...) (rows = output channels), ``b`` bytes per
value, ``nnz`` non-zeros, ``n`` elements:
* ``bitmap``: one bit per element (1 = present), then the non-zero values in row-major order:
  bytes = ceil(n / 8) + nnz * b.
* ``csr``: compressed rows by output channel: int32 row pointers (O + 1), a column index per
  non-zero (uint16 when a row has at most 65536 elements, else uint32), the values:
  bytes = 4 * (O + 1) + nnz * (idx + b).
``dense`` is n * b. ``best_encoding`` picks the smallest, so a dense layer never gets bigger.
Bitmap wins from roughly 1/8 sparsity at int8; CSR only at high sparsity.
"""

from __future__ import annotations

import numpy as np

from aics.numerics.sparse import bitmap_bytes

FORMATS = ("dense", "bitmap", "csr")


def _rows(w: np.ndarray) -> np.ndarray:
    return w.reshape(w.shape[0], -1) if w.ndim > 1 else w.reshape(1, -1)


def _index_bytes(cols: int) -> int:
    return 2 if cols <= 65536 else 4


def encoded_bytes(w: np.ndarray, fmt: str, elem_bytes: int) -> int:
    """Bytes of ``w`` stored in ``fmt`` with ``elem_bytes`` per value (formulas in the module doc)."""
    n, nnz = int(w.size), int(np.count_nonzero(w))
    if fmt == "dense":
        return n * elem_bytes
    if fmt == "bitmap":  # the DLP's sparse DMA format (``aics.numerics.sparse``)
        return bitmap_bytes(n, nnz, elem_bytes)
    if fmt == "csr":
        rows = _rows(w)
        return 4 * (rows.shape[0] + 1) + nnz * (_index_bytes(rows.shape[1]) + elem_bytes)
    raise ValueError(f"unknown sparse format '{fmt}' (choose from {', '.join(FORMATS)})")


def best_encoding(w: np.ndarray, elem_bytes: int) -> tuple[str, int]:
    """The smallest format for ``w`` and its size in bytes (dense on ties)."""
    sizes = [(encoded_bytes(w, f, elem_bytes), k, f) for k, f in enumerate(FORMATS)]
    size, _, fmt = min(sizes)
    return fmt, size


def encode_csr(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row pointers int32, column indices uint16/uint32, values) with rows = output channels."""
    rows = _rows(w)
    present = rows != 0
    row_ptr = np.concatenate([[0], np.cumsum(present.sum(1))]).astype(np.int32)
    cols = np.nonzero(present)[1].astype(np.uint16 if _index_bytes(rows.shape[1]) == 2 else np.uint32)
    return row_ptr, cols, rows[present]


def decode_csr(row_ptr: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    rows = np.zeros((len(row_ptr) - 1, int(np.prod(shape[1:])) if len(shape) > 1 else int(shape[0])), dtype=values.dtype)
    for r in range(rows.shape[0]):
        rows[r, cols[row_ptr[r]:row_ptr[r + 1]]] = values[row_ptr[r]:row_ptr[r + 1]]
    return rows.reshape(shape)
