"""Acceptance: the emitted C of the seeds' networks is bit-identical to the integer reference
(int8, Q2.6 wrap, Q2.6 saturate), and the trained LeNet-5 classifies the digits test set through
the compiled program with the reference's accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from aics import zoo
from aics.backends.hls import build_project, csim, write_project
from aics.reference import Executor, dequantize
from aics.zoo.mobilenet import MobileNetV2

from .conftest import SCHEMES, emit_and_csim, quantize_module


def _seeded(build: object) -> nn.Module:
    torch.manual_seed(0)
    return build()  # type: ignore[operator]


MODELS = {
    "fulladder_mlp": (lambda: zoo.get("fulladder_mlp").build(), (1, 9)),
    # the seeds' conv_last + avgpool: conv5 (1x1, 192 -> 512, BN folded, ReLU) and the global pool
    "shufflenet_v2_192_tail": (lambda: nn.Sequential(zoo.get("shufflenet_v2_192").build().conv5,
                                                     nn.AdaptiveAvgPool2d(1)), (1, 192, 4, 4)),
    # depthwise convs, ReLU6, residual adds; width 0.35 keeps the weights header small
    "mobilenet_v2_32": (lambda: MobileNetV2(width_mult=0.35, num_classes=10), (1, 3, 32, 32)),
    # transposed convolutions and the tanh LUT; one vector (100 M MACs)
    "conv_autoencoder": (lambda: zoo.get("conv_autoencoder").build(), (1, 3, 32, 32)),
}


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("name", list(MODELS))
def test_bit_exact(name: str, scheme: str, tmp_path: Path) -> None:
    build, shape = MODELS[name]
    graph = quantize_module(_seeded(build), shape, scheme, name)
    x = np.random.default_rng(1).standard_normal((1 if name == "conv_autoencoder" else 3, *shape[1:]))
    _, result = emit_and_csim(graph, tmp_path / "prj", x.astype(np.float32))
    assert result.bit_exact, result.to_dict()
    assert result.max_abs_diff == 0 and result.vectors == len(x)


def test_wrap_and_sat_differ_where_values_overflow(tmp_path: Path) -> None:
    """Q2.6 holds [-2, 2): the autoencoder-free MLP on large inputs overflows, and the two modes
    must then disagree (each still bit-exact with its own reference)."""
    build, shape = MODELS["fulladder_mlp"]
    x = (4 * np.random.default_rng(2).standard_normal((8, *shape[1:]))).astype(np.float32)
    outs = []
    for k, scheme in enumerate(SCHEMES[1:]):
        graph = quantize_module(_seeded(build), shape, scheme)
        _, result = emit_and_csim(graph, tmp_path / f"p{k}", x)
        assert result.bit_exact
        outs.append(result.outputs)
    assert not np.array_equal(outs[0], outs[1])


@pytest.mark.parametrize("scheme", SCHEMES)
def test_trained_lenet_digits_accuracy(trained_lenet: tuple[nn.Module, object], scheme: str,
                                       tmp_path: Path) -> None:
    model, split = trained_lenet
    calib = split.x_train[:128]  # type: ignore[attr-defined]
    graph = quantize_module(model, (1, 1, 32, 32), scheme, "lenet5", calib)
    project = build_project(graph)
    write_project(project, tmp_path / "lenet")
    x, y = split.x_test, split.y_test  # type: ignore[attr-defined]
    result = csim(project, tmp_path / "lenet", x)  # the whole test set through one program run
    assert result.bit_exact and result.vectors == len(y)
    exe = Executor(graph, "int")
    ref = np.stack([dequantize(graph, graph.outputs[0], exe.run(xi[None])[0])[0] for xi in x])
    c_logits = dequantize(graph, graph.outputs[0], result.outputs)
    ref_acc = float(np.mean(ref.argmax(-1) == y))
    assert float(np.mean(c_logits.argmax(-1) == y)) == ref_acc
    if scheme == "int8":
        assert ref_acc > 0.85


class Odd(nn.Module):
    """Strides, padding, dilation, ceil_mode pools, a strided transposed conv, a residual sub."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1), nn.ReLU(),
                               nn.MaxPool2d(3, 2, padding=1, ceil_mode=True),
                               nn.Conv2d(4, 4, 3, padding=2, dilation=2))
        self.pool = nn.AvgPool2d(2, padding=1, ceil_mode=True, count_include_pad=False)
        self.up = nn.Sequential(nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a(x)
        return self.up(self.pool(y - torch.relu(y)))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_padding_strides_and_pools_bit_exact(scheme: str, tmp_path: Path) -> None:
    graph = quantize_module(_seeded(Odd), (1, 2, 15, 13), scheme)
    project, result = emit_and_csim(graph, tmp_path / "odd", np.random.default_rng(3).standard_normal(
        (4, 2, 15, 13)).astype(np.float32))
    assert result.bit_exact, result.to_dict()
    top = project.files["aics_top.c"]
    assert "if (iy >= 0 && iy < 15 && ix >= 0 && ix < 13)" in top and "ty % 2 == 0" in top  # padding by conditions
