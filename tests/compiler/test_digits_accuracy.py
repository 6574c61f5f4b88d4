"""Issue 5's accuracy criterion: the compiled int8 LeNet-5, trained on digits, classifies the test
split like float PyTorch on >= 99% of the images (slow: trains the model first)."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.mark.slow
def test_trained_lenet5_program_agrees_with_float_pytorch(tmp_path) -> None:
    from aics import checkpoint
    from aics.compiler.compile import compile_graph
    from aics.compiler.workflow import quantized_model, to_codes
    from aics.compress.quant.workflow import load_subject
    from aics.dlp import sim
    from aics.dlp.arch_io import load_arch
    from aics.train import TrainConfig, train_model

    ckpt, _ = train_model("lenet5", "digits", TrainConfig(epochs=8, seed=0), progress=False)
    path = tmp_path / "lenet.pt"
    checkpoint.save(ckpt, path)
    arch = load_arch("edge-int8")
    compiled = compile_graph(quantized_model(str(path), calib="digits", calib_size=256), arch)
    split = load_subject(str(path), "digits").split
    module = checkpoint.load(path).build().eval()
    with torch.no_grad():
        float_pred = module(torch.from_numpy(split.x_test.astype(np.float32))).argmax(1).numpy()
    desc = compiled.program.inputs[0]
    agree = 0
    for x, want in zip(split.x_test, float_pred):
        out = sim.run(compiled.program, arch, {desc.name: to_codes(x[None], desc)}, mode="functional").outputs
        agree += int(np.argmax(next(iter(out.values()))) == want)
    assert agree / len(float_pred) >= 0.99
