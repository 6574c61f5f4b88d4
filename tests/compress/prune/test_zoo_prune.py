"""Every zoo CNN and the tiny ViT lose 50% of their prunable channels (global L1) and still run:
same output shape, fewer MACs in the analyzer, and for CNNs exactly the function of the original
network with the removed channels zeroed. A representative subset round-trips through ONNX Runtime."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from aics import zoo
from aics.analysis.analyze import analyze
from aics.compress.prune import L1, Budget, DependencyGraph
from aics.compress.prune.apply import apply_removal, pruned_graph
from aics.compress.prune.select import choose

from .helpers import masked, randomize_bn

CASES = {  # name: (input shape, constructor overrides)
    "resnet18": ((1, 3, 64, 64), {}), "resnet34": ((1, 3, 64, 64), {}), "resnet50": ((1, 3, 64, 64), {}),
    "mobilenet_v1_050": ((1, 3, 64, 64), {"resolution": 64}), "shufflenet_v2_x1_0": ((1, 3, 64, 64), {}),
    "shufflenet_v2_192": ((1, 3, 96, 96), {}), "resnext50_32x4d": ((1, 3, 64, 64), {}), "se_resnet50": ((1, 3, 64, 64), {}),
    "res2net50": ((1, 3, 64, 64), {}), "densenet121": ((1, 3, 64, 64), {}), "googlenet": ((1, 3, 64, 64), {}),
    "mobilenet_v1": ((1, 3, 64, 64), {"resolution": 64}),
    "mobilenet_v2": ((1, 3, 64, 64), {}), "shufflenet_v1_g3": ((1, 3, 64, 64), {}),
    "shufflenet_v2_x0_5": ((1, 3, 64, 64), {}), "squeezenet1_0": ((1, 3, 64, 64), {}),
    "squeezenet1_1": ((1, 3, 64, 64), {}), "lenet5": (None, {}), "digits_resnet": (None, {}),
    "cnn1d": (None, {}), "conv_autoencoder": (None, {}), "vit_tiny": (None, {}),
}
BIG = {  # the same patterns with 10-140M random parameters to build: make test-all
    "resnet101": ((1, 3, 64, 64), {}), "resnet152": ((1, 3, 64, 64), {}), "shufflenet_v2_x1_5": ((1, 3, 64, 64), {}),
    "shufflenet_v2_x2_0": ((1, 3, 64, 64), {}), "vgg11_bn": ((1, 3, 64, 64), {}), "vgg16": ((1, 3, 64, 64), {}),
    "alexnet": ((1, 3, 224, 224), {}), "zfnet": ((1, 3, 224, 224), {}), "vit_b_16": ((1, 3, 64, 64), {"image_size": 64}),
}
ONNX = ("resnet18", "mobilenet_v2", "shufflenet_v1_g3", "shufflenet_v2_x0_5", "densenet121", "vit_tiny")


def _prune_half(name: str, shape: tuple[int, ...] | None, kwargs: dict) -> None:
    entry = zoo.get(name)
    shape = shape or entry.input_shape
    torch.manual_seed(0)
    model = randomize_bn(entry.build(**kwargs))
    dep = DependencyGraph.build(copy.deepcopy(model), shape)
    scores = {g.index: L1()(g) for g in dep.groups}
    removed = choose(dep, scores, Budget(ratio=0.5), "global")
    assert len(removed) >= 0.45 * dep.prunable
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    check_mask = not any(n.op == "layer_norm" for n in dep.graph.nodes)  # LN mixes zeroed channels in
    if check_mask:
        reference = DependencyGraph.build(copy.deepcopy(model), shape)
        masked(reference, removed)
        with torch.no_grad():
            want = reference.gm(x)
    macs_before, macs_after = analyze(dep.graph).total.macs, analyze(pruned_graph(dep, removed)).total.macs
    pruned = apply_removal(dep.model, dep, removed)  # verifies that a fresh trace gives exactly these MACs
    with torch.no_grad():
        got, full = pruned(x), model(x)
    assert got.shape == full.shape
    assert macs_after < macs_before
    if check_mask:
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))
    if name in ONNX:
        _onnx_matches(pruned, x)


def _onnx_matches(model: torch.nn.Module, x: torch.Tensor) -> None:
    import io

    import onnxruntime as ort

    buf = io.BytesIO()
    torch.onnx.export(model, (x,), buf, dynamo=False, input_names=["x"])
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    (out,) = sess.run(None, {"x": x.numpy()})
    with torch.no_grad():
        ref = model(x).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4 * float(np.abs(ref).max()))


@pytest.mark.parametrize("name", sorted(CASES))
def test_prune_half_of_channels(name: str) -> None:
    _prune_half(name, *CASES[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BIG))
def test_prune_half_of_channels_big(name: str) -> None:
    _prune_half(name, *BIG[name])
