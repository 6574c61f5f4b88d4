"""One LeNet-5 trained on digits 32x32 for the whole session (about 10 s), saved as a checkpoint."""

import pytest

from aics import checkpoint
from aics.compress.quant.workflow import load_subject
from aics.train import TrainConfig, train_model


@pytest.fixture(scope="session")
def lenet(tmp_path_factory):
    """(checkpoint path, training result, Subject) of LeNet-5 trained 20 epochs, seed 0."""
    ckpt, result = train_model("lenet5", "digits", TrainConfig(epochs=20, seed=0), input_size=32, progress=False)
    path = tmp_path_factory.mktemp("lenet") / "lenet5.pt"
    checkpoint.save(ckpt, path)
    return path, result, load_subject(str(path))
