"""Every zoo entry builds, runs, fx-traces, and builds on the meta device; the registry is consistent."""

from __future__ import annotations

import pytest
import torch
import torch.fx
from torch import nn

import aics.zoo as zoo
from aics.errors import UnknownModelError
from aics.zoo import MODELS, ZooEntry

NAMES = sorted(MODELS)

# The zoo's names (SPEC C2); adding a model means adding it here.
EXPECTED_NAMES = {
    "lenet5", "fulladder_mlp", "mnist_mlp", "conv_autoencoder",
    "alexnet", "alexnet_2gpu", "zfnet",
    "vgg11", "vgg16", "vgg19", "vgg11_bn", "vgg16_bn", "vgg19_bn",
    "googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "resnext50_32x4d", "se_resnet50", "res2net50", "densenet121", "squeezenet1_0", "squeezenet1_1",
    "mobilenet_v1", "mobilenet_v1_075", "mobilenet_v1_050", "mobilenet_v1_025",
    "mobilenet_v1_192", "mobilenet_v1_160", "mobilenet_v1_128", "mobilenet_v2",
    "shufflenet_v1_g3", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0",
    "shufflenet_v2_192", "vit_b_16", "vit_tiny", "bert_base", "lstm_seq", "gru_seq",
    # small models the project trains itself (pruning benchmarks on digits and MNIST-1D)
    "digits_resnet", "cnn1d",
}

# Output shape at the default input, where it is not (1, 1000).
OUTPUT_SHAPES = {
    "lenet5": (1, 10), "mnist_mlp": (1, 10), "fulladder_mlp": (1, 5), "vit_tiny": (1, 10),
    "conv_autoencoder": (1, 3, 32, 32), "bert_base": (1, 768), "lstm_seq": (1, 2), "gru_seq": (1, 2),
    "digits_resnet": (1, 10), "cnn1d": (1, 10),
}


def make_input(entry: ZooEntry, device: str | None = None) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    if entry.input_dtype == "int64":
        assert entry.input_range is not None
        x = torch.randint(*entry.input_range, entry.input_shape, generator=gen)
    else:
        x = torch.randn(entry.input_shape, generator=gen)
    return x.to(device) if device else x


def test_names_are_the_spec_list() -> None:
    assert set(MODELS) == EXPECTED_NAMES


@pytest.mark.parametrize("name", NAMES)
def test_entry_metadata(name: str) -> None:
    entry = MODELS[name]
    assert entry.name == name
    assert entry.input_shape[0] == 1
    # the description names the default input shape, e.g. "input 1x3x224x224"
    assert "x".join(map(str, entry.input_shape)) in entry.description
    assert entry.input_dtype in ("float32", "int64")
    assert (entry.input_range is not None) == (entry.input_dtype == "int64")


def test_lookup_suggests_close_names() -> None:
    assert zoo.get("resnet50") is MODELS["resnet50"]
    with pytest.raises(UnknownModelError, match="resnet50"):
        zoo.get("resnet5O")


@pytest.mark.parametrize("name", NAMES)
def test_builds_and_runs_on_meta(name: str) -> None:
    """The analyzer builds models on the meta device: no allocation, no explicit devices in factories."""
    entry = MODELS[name]
    with torch.device("meta"):
        model = entry.build()
    assert all(p.is_meta for p in model.parameters())
    with torch.no_grad():
        out = model(make_input(entry, "meta"))
    assert tuple(out.shape) == OUTPUT_SHAPES.get(name, (1, 1000))


@pytest.mark.parametrize("name", NAMES)
def test_forward_and_fx_trace(name: str) -> None:
    entry = MODELS[name]
    torch.manual_seed(0)
    model = entry.build()
    assert not model.training
    x = make_input(entry)
    with torch.no_grad():
        out = model(x)
        traced = torch.fx.symbolic_trace(model)
        traced_out = traced(x)
    assert tuple(out.shape) == OUTPUT_SHAPES.get(name, (1, 1000))
    assert torch.isfinite(out).all()
    assert out.std() > 1e-3  # random weights still give a non-degenerate output (init keeps the scale)
    torch.testing.assert_close(traced_out, out, rtol=0, atol=0)
    assert not any(n.op == "call_module" and isinstance(traced.get_submodule(n.target), nn.MultiheadAttention)
                   for n in traced.graph.nodes)


def test_build_is_deterministic_under_a_seed() -> None:
    entry = MODELS["shufflenet_v2_x0_5"]
    x = make_input(entry)
    outs = []
    for _ in range(2):
        torch.manual_seed(1)
        with torch.no_grad():
            outs.append(entry.build()(x))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)


def _shapes(model: nn.Module, x: torch.Tensor, names: list[str]) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    seen = {}
    handles = [model.get_submodule(n).register_forward_hook(
        lambda m, i, o, n=n: seen.__setitem__(n, (tuple(i[0].shape), tuple(o.shape)))) for n in names]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return seen


def test_shufflenet_v2_192_conv5_is_4x4() -> None:
    """seeds/000_*: conv5 takes (192, 4, 4) and gives (512, 4, 4), then global pool and FC."""
    entry = MODELS["shufflenet_v2_192"]
    with torch.device("meta"):
        model = entry.build()
    shapes = _shapes(model, make_input(entry, "meta"), ["conv1", "maxpool", "conv5"])
    assert shapes["conv1"][1] == (1, 24, 64, 64)
    assert shapes["maxpool"][1] == (1, 24, 32, 32)  # the 32x32 map of the seed's padding code
    assert shapes["conv5"] == ((1, 192, 4, 4), (1, 512, 4, 4))


def test_conv_autoencoder_shapes() -> None:
    """seeds/000_*: encoder 32 -> 4, decoder 4 -> 8 -> 16 -> 32."""
    entry = MODELS["conv_autoencoder"]
    with torch.device("meta"):
        model = entry.build()
    shapes = _shapes(model, make_input(entry, "meta"), ["encoder", "decoder.0", "decoder.2", "decoder.4"])
    assert shapes["encoder"][1] == (1, 256, 4, 4)
    assert [shapes[f"decoder.{i}"][1][2:] for i in (0, 2, 4)] == [(8, 8), (16, 16), (32, 32)]


def test_zfnet_maps_follow_the_paper() -> None:
    """Zeiler & Fergus Fig. 3: 224 -> 110 -> 55 -> 26 -> 13 -> 13 -> 6."""
    entry = MODELS["zfnet"]
    with torch.device("meta"):
        model = entry.build()
    convs = [n for n, m in model.features.named_children() if isinstance(m, nn.Conv2d)]
    pools = [n for n, m in model.features.named_children() if isinstance(m, nn.MaxPool2d)]
    shapes = _shapes(model.features, make_input(entry, "meta"), convs + pools)
    assert [shapes[n][1][2] for n in convs] == [110, 26, 13, 13, 13]
    assert [shapes[n][1][2] for n in pools] == [55, 13, 6]


def test_alexnet_2gpu_is_grouped_where_the_gpus_do_not_talk() -> None:
    with torch.device("meta"):
        model = MODELS["alexnet_2gpu"].build()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]
    assert sum(isinstance(m, nn.LocalResponseNorm) for m in model.modules()) == 2


def test_mobilenet_v1_width_and_resolution() -> None:
    from aics.zoo.mobilenet import MobileNetV1

    with torch.device("meta"):
        model = MobileNetV1(alpha=0.5, resolution=160)
        out = model(torch.empty(1, 3, 160, 160))
    assert model.fc.in_features == 512 and tuple(out.shape) == (1, 1000)
    with pytest.raises(ValueError):
        MobileNetV1(resolution=150)
