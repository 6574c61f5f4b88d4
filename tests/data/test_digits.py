"""The digits dataset: fixed split, preparation, loaders, bad inputs."""

import numpy as np
import pytest

from aics.data import (DigitsConfig, calibration_subset, config_for_shape, load_dataset, load_digits,
                       make_loader, padded_batches)
from aics.errors import DataError


@pytest.fixture(scope="module")
def digits8():
    return load_digits(DigitsConfig(size=8))


def test_split_is_fixed_and_stratified(digits8):
    assert digits8.x_train.shape == (1437, 1, 8, 8) and digits8.x_test.shape == (360, 1, 8, 8)
    assert np.bincount(digits8.y_test).tolist() == [36, 36, 35, 37, 36, 37, 36, 36, 35, 36]
    again = load_digits(DigitsConfig(size=8))
    np.testing.assert_array_equal(again.x_test, digits8.x_test)
    np.testing.assert_array_equal(again.y_train, digits8.y_train)
    other = load_digits(DigitsConfig(size=8, split_seed=1))
    assert not np.array_equal(other.y_test, digits8.y_test)


def test_normalised_with_training_statistics(digits8):
    assert abs(float(digits8.x_train.mean())) < 1e-5
    assert abs(float(digits8.x_train.std()) - 1.0) < 1e-4
    assert digits8.mean == pytest.approx(0.3056, abs=1e-3) and digits8.x_test.dtype == np.float32
    raw = load_digits(DigitsConfig(size=8, normalize=False))
    assert raw.x_train.min() == 0.0 and raw.x_train.max() == 1.0


def _bilinear(img: np.ndarray, size: int) -> np.ndarray:
    """Half-pixel-centre bilinear resampling (align_corners=False), edges clamped."""
    src = np.clip((np.arange(size) + 0.5) * img.shape[0] / size - 0.5, 0, img.shape[0] - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, img.shape[0] - 1)
    f = src - lo
    rows = img[lo] * (1 - f)[:, None] + img[hi] * f[:, None]
    return rows[:, lo] * (1 - f)[None, :] + rows[:, hi] * f[None, :]


@pytest.mark.parametrize("size", [16, 28, 32])
def test_upscaling_is_bilinear(size):
    small = load_digits(DigitsConfig(size=8, normalize=False)).x_test
    up = load_digits(DigitsConfig(size=size, normalize=False)).x_test
    assert up.shape == (360, 1, size, size)
    for i in (0, 123, 359):
        np.testing.assert_allclose(up[i, 0], _bilinear(small[i, 0].astype(np.float64), size), atol=1e-6)


def test_three_channels_and_flat_layout():
    rgb = load_digits(DigitsConfig(size=16, channels=3))
    assert rgb.x_train.shape == (1437, 3, 16, 16)
    np.testing.assert_array_equal(rgb.x_train[:, 0], rgb.x_train[:, 2])
    flat = load_digits(DigitsConfig(size=28, layout="flat"))
    assert flat.x_test.shape == (360, 784)


def test_config_for_model_input_shapes():
    assert config_for_shape((1, 1, 32, 32)) == DigitsConfig(size=32)
    assert config_for_shape((1, 3, 224, 224), size=32) == DigitsConfig(size=32, channels=3)
    assert config_for_shape((1, 784)) == DigitsConfig(size=28, layout="flat")
    assert config_for_shape((1, 64)).size == 8
    with pytest.raises(DataError, match="cannot feed a model with input shape 1x9"):
        config_for_shape((1, 9))


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 20}, "input size 20 not supported"),
    ({"channels": 2}, "channels must be 1 or 3"),
    ({"test_fraction": 1.5}, "test fraction"),
])
def test_bad_configs(kwargs, message):
    with pytest.raises(DataError, match=message):
        DigitsConfig(**kwargs)


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset 'mnist'"):
        load_dataset("mnist", (1, 1, 28, 28))


def test_loader_order_depends_only_on_seed(digits8):
    def first_labels(seed):
        loader = make_loader(digits8.x_train, digits8.y_train, 32, shuffle=True, seed=seed)
        return next(iter(loader))[1].tolist()

    assert first_labels(3) == first_labels(3)
    assert first_labels(3) != first_labels(4)
    plain = next(iter(make_loader(digits8.x_test, digits8.y_test, 10)))[1].tolist()
    assert plain == digits8.y_test[:10].tolist()


def test_empty_and_broken_data_are_one_line_errors(digits8):
    empty = np.zeros((0, 1, 8, 8), np.float32)
    with pytest.raises(DataError, match="empty"):
        make_loader(empty, np.zeros(0, np.int64))
    bad = digits8.x_test[:4].copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN or Inf"):
        make_loader(bad, digits8.y_test[:4])
    with pytest.raises(DataError, match="4 inputs but 3 labels"):
        make_loader(digits8.x_test[:4], digits8.y_test[:3])
    with pytest.raises(DataError, match="empty"):
        calibration_subset(empty, 10)


def test_calibration_subset_and_padded_batches(digits8):
    a = calibration_subset(digits8.x_train, 100, seed=0)
    np.testing.assert_array_equal(a, calibration_subset(digits8.x_train, 100, seed=0))
    assert len(a) == 100 and len(calibration_subset(digits8.x_train, 5000)) == 1437
    batches = padded_batches(digits8.x_test[:250], 120)
    assert [len(b) for b, _ in batches] == [120, 120, 120] and [v for _, v in batches] == [120, 120, 10]
    np.testing.assert_array_equal(batches[2][0][10:], digits8.x_test[:110])
