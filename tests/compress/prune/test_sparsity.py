"""AGP sparsity follows Zhu & Gupta's cubic schedule at every step, and sparse encodings round-trip
with the documented byte counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aics.compress.distill import fit
from aics.errors import PruneError
from aics.numerics.sparse import decode_bitmap, encode_bitmap
from aics.compress.prune.sparse_format import (best_encoding, decode_csr, encode_csr,
                                               encoded_bytes)
from aics.compress.prune.sparsity import AgpSchedule, MagnitudeSparsifier
from aics.data import DigitsConfig, load_digits
from aics.train import TrainConfig
from aics.zoo.digits_resnet import DigitsResNet


def test_schedule_is_the_cubic_formula() -> None:
    s = AgpSchedule(initial=0.0, final=0.5, start=10, steps=4, every=5)
    assert [s.at(t) for t in (0, 9, 10, 14, 15, 20, 25, 30, 100)] == pytest.approx(
        [0, 0, 0, 0, 0.5 - 0.5 * 0.75 ** 3, 0.5 - 0.5 * 0.5 ** 3, 0.5 - 0.5 * 0.25 ** 3, 0.5, 0.5])
    with pytest.raises(PruneError):
        AgpSchedule(final=1.0)


def test_training_follows_the_schedule_within_one_point() -> None:
    split = load_digits(DigitsConfig(size=8))
    torch.manual_seed(0)
    model = DigitsResNet((8, 16, 16))
    config = TrainConfig(epochs=3, batch_size=64, lr=1e-2, seed=0)
    steps = config.epochs * -(-len(split.x_train) // config.batch_size)
    sched = AgpSchedule(0.0, 0.5, start=0, steps=steps // 2, every=1)  # 0 -> 50% over the first half, then hold
    sparsifier = MagnitudeSparsifier(model, sched)
    seen = []

    def after(step: int) -> None:
        sparsifier.step(step)
        seen.append((sched.at(step), sparsifier.sparsity()))

    result = fit(model, split, config, after_step=after)
    assert len(seen) == steps
    assert max(abs(want - got) for want, got in seen) <= 0.01
    assert seen[-1][1] == pytest.approx(0.5, abs=0.01)
    assert result.accuracy > 0.5  # still a working classifier at 50% sparsity


def test_encodings_round_trip_and_count_bytes() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    w[rng.random(w.shape) < 0.7] = 0
    nnz = int(np.count_nonzero(w))
    bitmap, values = encode_bitmap(w)
    np.testing.assert_array_equal(decode_bitmap(bitmap, values, w.shape), w)
    assert encoded_bytes(w, "bitmap", 1) == len(bitmap) + nnz == (w.size + 7) // 8 + nnz
    ptr, cols, vals = encode_csr(w)
    np.testing.assert_array_equal(decode_csr(ptr, cols, vals, w.shape), w)
    assert encoded_bytes(w, "csr", 1) == ptr.nbytes + cols.nbytes + vals.size == 4 * 17 + nnz * 3
    assert encoded_bytes(w, "dense", 4) == w.size * 4
    assert best_encoding(w, 1)[0] == "bitmap"
    assert best_encoding(np.ones((4, 4)), 1) == ("dense", 16)
    very = np.zeros((64, 1024), dtype=np.float32)
    very[:, 0] = 1
    assert best_encoding(very, 1)[0] == "csr"
