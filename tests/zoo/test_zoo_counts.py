"""Parameter and MAC counts of the zoo against published tables and hand derivations.

MACs here are counted by a test-only forward-hook helper (``count_macs``): one multiply-accumulate per
conv / linear / attention-matmul product, no bias, norm, activation or pool -- the convention that equals
torchvision's ``_ops`` metadata (anchors/model_counters.md §1). Everything runs on the meta device.

Hand counts (params = weights + biases; MACs = output elements x fan-in):

LeNet-5, 1x1x32x32 (PyTorch form, anchors §5)::

    layer  output     params                    MACs
    conv1  6x28x28    6*5*5*1 + 6     =    156  4704 * 25      = 117,600
    conv2  16x10x10   16*5*5*6 + 16   =  2,416  1600 * 150     = 240,000
    fc1    120        400*120 + 120   = 48,120  400*120        =  48,000
    fc2    84         120*84 + 84     = 10,164  120*84         =  10,080
    fc3    10         84*10 + 10      =    850  84*10          =     840
    total                               61,706                   416,520

4-bit full-adder MLP 9-20-20-5 (exercise 2.11)::

    fc1    9*20 + 20   = 200   MACs 180
    fc2    20*20 + 20  = 420   MACs 400
    fc3    20*5 + 5    = 105   MACs 100
    total                725        680

AlexNet 2012, two-GPU layout, 1x3x227x227 (anchors §5; groups=2 halves the fan-in)::

    conv1  96x55x55   96*11*11*3 + 96     =     34,944   290,400 * 363   = 105,415,200
    conv2  256x27x27  256*5*5*48 + 256    =    307,456   186,624 * 1200  = 223,948,800
    conv3  384x13x13  384*3*3*256 + 384   =    885,120    64,896 * 2304  = 149,520,384
    conv4  384x13x13  384*3*3*192 + 384   =    663,936    64,896 * 1728  = 112,140,288
    conv5  256x13x13  256*3*3*192 + 256   =    442,624    43,264 * 1728  =  74,760,192
    fc6    4096       9216*4096 + 4096    = 37,752,832                     37,748,736
    fc7    4096       4096*4096 + 4096    = 16,781,312                     16,777,216
    fc8    1000       4096*1000 + 1000    =  4,097,000                      4,096,000
    total                                   60,965,224                    724,406,816
"""

from __future__ import annotations

import math
from functools import lru_cache

import pytest
import torch
from torch import nn

from aics.zoo import MODELS
from aics.zoo.transformer import Attention


def _macs(m: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> int:
    if isinstance(m, nn.Conv2d):  # per output element: (Cin/groups) * kh * kw
        return out.numel() * (m.in_channels // m.groups) * math.prod(m.kernel_size)
    if isinstance(m, nn.ConvTranspose2d):  # per input element: (Cout/groups) * kh * kw
        return inputs[0].numel() * (m.out_channels // m.groups) * math.prod(m.kernel_size)
    if isinstance(m, nn.Linear):
        return out.numel() * m.in_features
    if isinstance(m, Attention):  # q @ k^T and attn @ v: 2 * batch * tokens^2 * dim
        b, n, d = inputs[0].shape
        return 2 * b * n * n * d
    return 0


@lru_cache(maxsize=None)
def layer_macs(name: str) -> list[tuple[str, int, int]]:
    """(module name, params, MACs) of every module with MACs, in call order, on the meta device."""
    entry = MODELS[name]
    with torch.device("meta"):
        model = entry.build()
    dtype = torch.long if entry.input_dtype == "int64" else torch.float32
    x = torch.zeros(entry.input_shape, dtype=dtype, device="meta")
    rows: list[tuple[str, int, int]] = []
    handles = [
        m.register_forward_hook(lambda m, i, o, n=n: rows.append((n, sum(p.numel() for p in m.parameters()), _macs(m, i, o))))
        for n, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, Attention))
    ]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return [r for r in rows if r[2]]


def count_macs(name: str) -> int:
    # Attention rows carry their qkv/proj params but only their matmul MACs: no double count.
    return sum(macs for _, _, macs in layer_macs(name))


@lru_cache(maxsize=None)
def count_params(name: str) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in MODELS[name].build().parameters())


# Exact parameter counts. tv = torchvision's weight metadata / anchors/model_counters.md Table 1 (same
# architecture, so the count must be identical); hand = the derivations above; derived = see comment.
PARAMS = {
    "lenet5": 61_706,  # hand
    "fulladder_mlp": 725,  # hand
    "alexnet_2gpu": 60_965_224,  # hand, anchors §5
    "alexnet": 61_100_840,  # tv
    "vgg11": 132_863_336,  # tv
    "vgg16": 138_357_544,  # tv
    "vgg19": 143_667_240,  # tv
    "vgg11_bn": 132_868_840,  # tv
    "vgg16_bn": 138_365_992,  # tv
    "vgg19_bn": 143_678_248,  # tv
    "googlenet": 6_624_904,  # tv (aux heads off)
    "resnet18": 11_689_512,  # tv
    "resnet34": 21_797_672,  # tv
    "resnet50": 25_557_032,  # tv
    "resnet101": 44_549_160,  # tv
    "resnet152": 60_192_808,  # tv
    "resnext50_32x4d": 25_028_904,  # tv
    "densenet121": 7_978_856,  # tv
    "squeezenet1_0": 1_248_424,  # tv; SqueezeNet paper Table 1 (1,248,424)
    "squeezenet1_1": 1_235_496,  # tv
    "mobilenet_v2": 3_504_872,  # tv
    "shufflenet_v2_x0_5": 1_366_792,  # tv
    "shufflenet_v2_x1_0": 2_278_604,  # tv
    "shufflenet_v2_x1_5": 3_503_624,  # tv
    "shufflenet_v2_x2_0": 7_393_996,  # tv
    "vit_b_16": 86_567_656,  # tv
    # derived: resnet50 + SE (2*C*C/16 + C/16 + C per block, C = 256x3, 512x4, 1024x6, 2048x3) = +2,530,992
    "se_resnet50": 28_088_024,
    # derived: Hugging Face BertModel (bert-base-uncased) count: embeddings 23,837,184 + 12 x 7,087,872 + pooler 590,592
    "bert_base": 109_482_240,
    # derived: Keras MobileNet(alpha=1.0) trainable params: conv/BN 3,206,976 + FC 1,025,000
    "mobilenet_v1": 4_231_976,
}

# Exact MACs: tv = anchors/model_counters.md Table 1 `ref` (= torchvision _ops); hand = derivations above.
MACS = {
    "lenet5": 416_520,  # hand
    "fulladder_mlp": 680,  # hand
    "alexnet_2gpu": 724_406_816,  # hand, anchors §5
    "alexnet": 714_188_480,  # tv
    "vgg16": 15_470_264_320,  # tv
    "vgg16_bn": 15_470_264_320,  # tv
    "vgg19": 19_632_062_464,  # tv
    "googlenet": 1_498_376_192,  # tv
    "resnet18": 1_814_073_344,  # tv
    "resnet34": 3_663_761_408,  # tv
    "resnet50": 4_089_184_256,  # tv
    "resnet152": 11_513_626_624,  # tv
    "resnext50_32x4d": 4_230_479_872,  # tv
    "densenet121": 2_834_161_664,  # tv
    "squeezenet1_0": 818_924_576,  # tv
    "squeezenet1_1": 349_151_936,  # tv
    "mobilenet_v2": 300_774_272,  # tv
    "shufflenet_v2_x0_5": 40_476_448,  # tv
    "shufflenet_v2_x1_0": 144_907_992,  # tv
    "shufflenet_v2_x1_5": 295_759_392,  # tv
    "shufflenet_v2_x2_0": 583_253_464,  # tv
    "vit_b_16": 17_563_828_224,  # tv, 715,327,488 of them attention matmuls (anchors Table 3)
}

# Published (rounded) numbers: name -> (params in M or None, MACs in M or None, relative tolerance, source).
PUBLISHED = {
    "mobilenet_v1": (4.2, 569, 0.01, "Howard et al. 2017 Tables 6/7"),
    "mobilenet_v1_075": (2.6, 325, 0.01, "Howard et al. 2017 Table 6"),
    "mobilenet_v1_050": (1.3, 149, 0.03, "Howard et al. 2017 Table 6"),
    "mobilenet_v1_025": (0.5, 41, 0.07, "Howard et al. 2017 Table 6 (0.47M rounds to 0.5M)"),
    "mobilenet_v1_192": (4.2, 418, 0.01, "Howard et al. 2017 Table 7"),
    "mobilenet_v1_160": (4.2, 290, 0.01, "Howard et al. 2017 Table 7"),
    "mobilenet_v1_128": (4.2, 186, 0.01, "Howard et al. 2017 Table 7"),
    "shufflenet_v1_g3": (1.9, 140, 0.025, "Zhang et al. 2018 Table 2 (140 MFLOPs = mult-adds); megvii repo 1.9M, 137.5M"),
    "shufflenet_v2_x0_5": (1.4, 41, 0.025, "Ma et al. 2018 Table 5 (torchvision is 1.1-1.3% below)"),
    "shufflenet_v2_x1_0": (2.3, 146, 0.015, "Ma et al. 2018 Table 5"),
    "shufflenet_v2_x1_5": (3.5, 299, 0.015, "Ma et al. 2018 Table 5"),
    "shufflenet_v2_x2_0": (7.4, 591, 0.015, "Ma et al. 2018 Table 5"),
    "res2net50": (25.7, 4200, 0.015, "Gao et al. 2019 / official model zoo: 25.70M, 4.2 GFLOPs (mult-adds)"),
    "resnext50_32x4d": (25.0, 4200, 0.015, "Xie et al. 2017 Table 1"),
    "densenet121": (8.0, 2900, 0.03, "Huang et al. 2017 Fig. 3"),
    "mobilenet_v2": (3.5, 300, 0.01, "Sandler et al. 2018 Table 4 (3.4M truncated)"),
    "vgg16": (138, 15300, 0.015, "Simonyan & Zisserman Table 2; 15.3G is conv-only, ours adds the FC layers"),
    "vgg19": (144, 19600, 0.01, "Simonyan & Zisserman Table 2; He et al. 2016"),
    "bert_base": (110, None, 0.01, "Devlin et al. 2019: BERT-BASE 110M"),
    "vit_b_16": (86, 17500, 0.01, "Dosovitskiy et al. 2021 Table 1; Swin Table 1 (DeiT-B)"),
    "squeezenet1_0": (1.25, None, 0.01, "Iandola et al. 2016 Table 1"),
}


@pytest.mark.parametrize(("name", "expected"), PARAMS.items(), ids=list(PARAMS))
def test_exact_params(name: str, expected: int) -> None:
    assert count_params(name) == expected


@pytest.mark.parametrize(("name", "expected"), MACS.items(), ids=list(MACS))
def test_exact_macs(name: str, expected: int) -> None:
    assert count_macs(name) == expected


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_counts(name: str) -> None:
    params_m, macs_m, tol, _source = PUBLISHED[name]
    if params_m is not None:
        assert count_params(name) / 1e6 == pytest.approx(params_m, rel=tol)
    if macs_m is not None:
        assert count_macs(name) / 1e6 == pytest.approx(macs_m, rel=tol)


def test_se_adds_about_2_5m_params_and_a_few_macs() -> None:
    """Hu et al. 2018 §4: SE-ResNet-50 adds ~2.5M params (~10%) and a negligible ~0.26% of compute."""
    extra = count_params("se_resnet50") - count_params("resnet50")
    assert extra == 2_530_992
    assert 0 < count_macs("se_resnet50") / count_macs("resnet50") - 1 < 0.003


def test_lenet5_per_layer() -> None:
    assert layer_macs("lenet5") == [
        ("features.0", 156, 117_600),
        ("features.3", 2_416, 240_000),
        ("classifier.0", 48_120, 48_000),
        ("classifier.2", 10_164, 10_080),
        ("classifier.4", 850, 840),
    ]


def test_fulladder_per_layer() -> None:
    assert [(p, m) for _, p, m in layer_macs("fulladder_mlp")] == [(200, 180), (420, 400), (105, 100)]


def test_alexnet_2gpu_per_layer() -> None:
    assert [(p, m) for _, p, m in layer_macs("alexnet_2gpu")] == [
        (34_944, 105_415_200),
        (307_456, 223_948_800),
        (885_120, 149_520_384),
        (663_936, 112_140_288),
        (442_624, 74_760_192),
        (37_752_832, 37_748_736),
        (16_781_312, 16_777_216),
        (4_097_000, 4_096_000),
    ]


def test_vit_attention_matmuls() -> None:
    """anchors Table 3: 715,327,488 attention-matmul MACs in ViT-B/16 (12 x 2 x 197^2 x 768)."""
    attn = sum(m for n, _, m in layer_macs("vit_b_16") if n.endswith(".attn"))
    assert attn == 715_327_488 == 12 * 2 * 197 * 197 * 768


def test_shufflenet_v2_192_conv5() -> None:
    """seeds/000_*: conv5 is a 192 -> 512 1x1 conv on a 4x4 map: 192*512 weights, 16*512*192 MACs."""
    rows = {n: (p, m) for n, p, m in layer_macs("shufflenet_v2_192")}
    assert rows["conv5.0"] == (192 * 512, 4 * 4 * 512 * 192)
    assert rows["fc"] == (512 * 1000 + 1000, 512 * 1000)
