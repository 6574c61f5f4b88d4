"""The analyzer reproduces published counts (models built on the meta device: shapes only).

MACs follow torchvision's metadata definition (conv + linear + attention matmuls, no bias), which
equals fvcore's conv/linear core and the papers' "FLOPs = multiply-adds" (see
shared/anchors/model_counters.md, Tables 1 and 6). Sources are given per row.
"""

import pytest

from aics.analysis.analyze import analyze
from aics.models import load_graph

# name: (params exact, MACs, source). MACs compared within 1%.
PUBLISHED = {
    # torchvision metadata (equal to the aten-level reference count, anchors Table 1)
    "alexnet": (61_100_840, 714_188_480, "torchvision"),
    "vgg16": (138_357_544, 15_470_264_320, "torchvision; VGG Table 2 138M; MobileNet Table 8 15.3G = conv only"),
    "vgg19": (143_667_240, 19_632_062_464, "torchvision; ResNet paper 19.6G"),
    "vgg16_bn": (138_365_992, 15_470_264_320, "torchvision"),
    "googlenet": (6_624_904, 1_498_376_192, "torchvision (3x3 in the '5x5' branch; paper 6.8M / 1.5G)"),
    "resnet18": (11_689_512, 1_814_073_344, "torchvision; ResNet Table 1 1.8G"),
    "resnet34": (21_797_672, 3_663_761_408, "torchvision; ResNet Table 1 3.6G"),
    "resnet50": (25_557_032, 4_089_184_256, "torchvision v1.5; ResNeXt Table 1 4.1G (paper's v1 3.8G)"),
    "resnet101": (44_549_160, 7_801_405_440, "torchvision v1.5"),
    "resnet152": (60_192_808, 11_513_626_624, "torchvision v1.5"),
    "resnext50_32x4d": (25_028_904, 4_230_479_872, "torchvision; ResNeXt Table 1 25.0M / 4.2G"),
    "densenet121": (7_978_856, 2_834_161_664, "torchvision; DenseNet 8.0M / 2.9G"),
    "mobilenet_v2": (3_504_872, 300_774_272, "torchvision; MobileNetV2 Table 4 300M"),
    "shufflenet_v2_x0_5": (1_366_792, 40_476_448, "torchvision; ShuffleNet v2 Table 5 41M"),
    "shufflenet_v2_x1_0": (2_278_604, 144_907_992, "torchvision; ShuffleNet v2 Table 5 146M / 2.3M"),
    "shufflenet_v2_x1_5": (3_503_624, 295_759_392, "torchvision; Table 5 299M"),
    "shufflenet_v2_x2_0": (7_393_996, 583_253_464, "torchvision; Table 5 591M"),
    "squeezenet1_0": (1_248_424, 818_924_576, "torchvision; SqueezeNet Table 1 1,248,424"),
    "squeezenet1_1": (1_235_496, 349_151_936, "torchvision"),
    "vit_b_16": (86_567_656, 17_563_828_224, "torchvision (incl. 715.3M attention matmul MACs)"),
    # hand derivations (anchors section 5)
    "lenet5": (61_706, 416_520, "hand: conv 117,600 + 240,000; fc 48,000 + 10,080 + 840"),
    "alexnet_2gpu": (60_965_224, 724_406_816, "hand: conv 665,784,864 + fc 58,621,952"),
    "fulladder_mlp": (725, 680, "hand: 9*20+20 + 20*20+20 + 20*5+5 params; 180+400+100 MACs"),
}

# MobileNet v1 Tables 6/7: (params in millions, MACs in millions), both rounded in the paper.
MOBILENET_V1 = {
    "mobilenet_v1": (4.2, 569), "mobilenet_v1_075": (2.6, 325), "mobilenet_v1_050": (1.3, 149),
    "mobilenet_v1_025": (0.5, 41), "mobilenet_v1_192": (4.2, 418), "mobilenet_v1_160": (4.2, 290),
    "mobilenet_v1_128": (4.2, 186),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_counts(name):
    params, macs, _source = PUBLISHED[name]
    total = analyze(load_graph(name)).total
    assert total.params == params
    assert total.macs == pytest.approx(macs, rel=0.01)


@pytest.mark.parametrize("name", sorted(MOBILENET_V1))
def test_mobilenet_v1_tables(name):
    params_m, macs_m = MOBILENET_V1[name]
    total = analyze(load_graph(name)).total
    assert round(total.params / 1e6, 1) == pytest.approx(params_m, abs=0.051)
    assert total.macs / 1e6 == pytest.approx(macs_m, rel=0.01)


def test_torchvision_macs_are_exact_where_defined_identically():
    """Our MACs equal the aten-level reference to the MAC for these (no rounding involved)."""
    for name in ("resnet50", "mobilenet_v2", "vgg16", "shufflenet_v2_x1_0", "vit_b_16"):
        assert analyze(load_graph(name)).total.macs == PUBLISHED[name][1], name


def test_lenet5_per_layer_and_neurons():
    layers = {lc.name: lc.counts for lc in analyze(load_graph("lenet5")).layers}
    weighted = [c for c in layers.values() if c.neurons]
    assert [c.macs for c in weighted] == [117_600, 240_000, 48_000, 10_080, 840]
    assert [c.params for c in weighted] == [156, 2_416, 48_120, 10_164, 850]
    assert sum(c.neurons for c in weighted) == 6_518


def test_alexnet_2gpu_neurons():
    """Outputs of the 5 convs and 3 FCs: 290,400 + 186,624 + 64,896 + 64,896 + 43,264 + 4096 + 4096 + 1000."""
    assert analyze(load_graph("alexnet_2gpu")).total.neurons == 659_272
