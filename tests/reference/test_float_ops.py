"""Per-op float32 semantics against PyTorch: one small module per op family, edge cases included
(groups, dilation, asymmetric padding, ceil_mode, count_include_pad, adaptive bins that overlap,
align_corners, bidirectional multi-layer RNNs)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from aics.ir import attrs as A
from aics.ir.graph import GraphBuilder
from aics.ir.torch_import import import_module
from aics.reference import run, run_all


class Fn(nn.Module):
    """A one-input function as a module (fx cannot trace ``*args``)."""

    def __init__(self, fn: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


class Fn2(Fn):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.fn(x, y)


def check(module: nn.Module, *shapes: tuple[int, ...], tol: float = 1e-5) -> None:
    torch.manual_seed(0)
    xs = [torch.randn(s) for s in shapes]
    with torch.no_grad():
        expected = module.eval()(*xs).numpy()
    graph = import_module(module, list(shapes))
    (out,) = run(graph, {n.name: x.numpy() for n, x in zip(graph.inputs, xs)})
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, atol=tol * max(1.0, float(np.abs(expected).max())), rtol=0)


@pytest.mark.parametrize("module", [
    nn.Conv2d(6, 8, 3, stride=2, padding=1, groups=2),
    nn.Conv2d(4, 4, 3, padding=2, dilation=2, groups=4),
    nn.Conv2d(3, 5, (3, 5), stride=(1, 2), padding=(0, 2), bias=False),
    nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"),
    nn.Conv2d(3, 4, 1),
    nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1),
    nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1, groups=2, bias=False),
    nn.ConvTranspose2d(4, 3, 3, stride=3, dilation=2, padding=2, output_padding=2),
])
def test_convolutions(module: nn.Module) -> None:
    in_ch = module.in_channels
    check(module, (2, in_ch, 9, 11))


def test_conv_asymmetric_padding() -> None:
    """ONNX-style (top, bottom, left, right) pads: equal to F.pad then an unpadded conv."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 3, 7, 8)).astype(np.float32), rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = GraphBuilder("g")
    xi = b.input("x", x.shape)
    wi = b.const("w", w.shape, data=w)
    b.op("conv2d", [xi, wi], A.Conv2dAttrs(stride=(2, 1), padding=(0, 2, 1, 0)), "conv")
    (out,) = run(b.build(["conv"]), x)
    expected = F.conv2d(F.pad(torch.from_numpy(x), (1, 0, 0, 2)), torch.from_numpy(w), stride=(2, 1)).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("module", [
    nn.MaxPool2d(3, 2, padding=1, ceil_mode=True),
    nn.MaxPool2d(2, 2, dilation=2),
    nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=True),
    nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False),
    nn.AvgPool2d((2, 3), (2, 1)),
    nn.AdaptiveAvgPool2d((3, 4)),
    nn.AdaptiveAvgPool2d(1),
    nn.AdaptiveAvgPool2d((7, 2)),
])
def test_pools(module: nn.Module) -> None:
    check(module, (2, 3, 10, 9))


@pytest.mark.parametrize("module", [
    nn.ReLU(), nn.ReLU6(), nn.Sigmoid(), nn.Tanh(), nn.Hardswish(), nn.SiLU(), nn.GELU(), nn.GELU("tanh"),
    nn.LeakyReLU(0.2), nn.ELU(0.7), nn.PReLU(), nn.PReLU(4), nn.Hardtanh(-0.5, 2.0), nn.Softmax(dim=1),
    Fn(torch.erf), Fn(lambda x: torch.clamp(x, min=-1.0)),
])
def test_activations(module: nn.Module) -> None:
    if isinstance(module, nn.PReLU):
        nn.init.uniform_(module.weight, -0.5, 0.5)
    check(module, (2, 4, 5, 6))


@pytest.mark.parametrize("module,shape", [
    (nn.BatchNorm2d(4), (2, 4, 5, 5)),
    (nn.LayerNorm(6), (2, 3, 6)),
    (nn.LayerNorm((3, 6)), (2, 3, 6)),
    (nn.LocalResponseNorm(5, alpha=1e-2, beta=0.75, k=2.0), (2, 8, 4, 4)),
    (nn.LocalResponseNorm(2), (1, 5, 3, 3)),
])
def test_normalisations(module: nn.Module, shape: tuple[int, ...]) -> None:
    if isinstance(module, nn.BatchNorm2d):
        module.running_mean.uniform_(-1, 1)
        module.running_var.uniform_(0.5, 2)
        nn.init.uniform_(module.weight, 0.5, 1.5)
        nn.init.uniform_(module.bias, -1, 1)
    check(module, shape)


@pytest.mark.parametrize("fn,shapes", [
    (lambda a, b: a + b, [(2, 3, 4), (3, 1)]),
    (lambda a, b: a - b, [(2, 1, 4), (3, 4)]),
    (lambda a, b: a * b, [(2, 3, 4), (4,)]),
    (lambda a, b: a / (b * b + 1), [(2, 3, 4), (1, 3, 1)]),
    (lambda a, b: a @ b, [(2, 1, 3, 5), (4, 5, 6)]),
    (lambda a, b: torch.cat([a, b], dim=1), [(2, 3, 4), (2, 5, 4)]),
    (lambda a: a[:, 1:7:2, ::3], [(2, 8, 7)]),
    (lambda a: a.permute(2, 0, 1).reshape(4, -1), [(2, 3, 4)]),
    (lambda a: a.expand(2, 3, 5), [(2, 1, 5)]),
    (lambda a: a.mean(dim=(1, 3), keepdim=True), [(2, 3, 4, 5)]),
    (lambda a: a.mean(-1), [(2, 3, 4)]),
    (lambda a: F.pad(a, (1, 2, 0, 3), value=0.5), [(1, 2, 4, 5)]),
    (lambda a: F.pad(a, (2, 1, 1, 2), mode="reflect"), [(1, 2, 4, 5)]),
    (lambda a: F.pad(a, (2, 1, 1, 2), mode="replicate"), [(1, 2, 4, 5)]),
    (lambda a: F.interpolate(a, scale_factor=2, mode="nearest"), [(1, 2, 3, 4)]),
    (lambda a: F.interpolate(a, size=(7, 5), mode="nearest"), [(1, 2, 3, 4)]),
    (lambda a: F.interpolate(a, size=(7, 9), mode="bilinear", align_corners=False), [(1, 2, 3, 4)]),
    (lambda a: F.interpolate(a, size=(7, 9), mode="bilinear", align_corners=True), [(1, 2, 3, 4)]),
    (lambda a: F.interpolate(a, size=(2, 3), mode="bilinear"), [(1, 2, 5, 7)]),
])
def test_tensor_ops(fn: Callable[..., torch.Tensor], shapes: list[tuple[int, ...]]) -> None:
    check(Fn(fn) if len(shapes) == 1 else Fn2(fn), *shapes)


@pytest.mark.parametrize("module", [
    nn.LSTM(5, 7, num_layers=2, batch_first=True, bidirectional=True),
    nn.GRU(5, 7, num_layers=2, batch_first=True, bidirectional=True),
    nn.LSTM(5, 7, batch_first=True, bias=False),
    nn.GRU(5, 7),  # sequence-first: the importer transposes around the op
])
def test_recurrent(module: nn.Module) -> None:
    class Seq(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = module

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.rnn(x)[0]
    check(Seq(), (3, 6, 5))


def test_embedding_and_linear() -> None:
    model = nn.Sequential(nn.Embedding(11, 4), nn.Linear(4, 3))
    ids = torch.tensor([[0, 3, 10, 7]])
    graph = import_module(model, ids.shape, "int64")
    (out,) = run(graph, ids.numpy())
    with torch.no_grad():
        np.testing.assert_allclose(out, model(ids).numpy(), atol=1e-6)


def test_run_all_gives_every_tensor() -> None:
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    graph = import_module(model, (1, 2, 6, 6))
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 6)).astype(np.float32)
    tensors = run_all(graph, x)
    assert set(tensors) == {n.name for n in graph.nodes}
    for node in graph.nodes:
        assert tensors[node.name].shape == node.shape
    np.testing.assert_array_equal(tensors[graph.outputs[0]], run(graph, {graph.inputs[0].name: x})[0])
