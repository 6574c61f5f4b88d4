"""Whole zoo networks (seeded random weights, int8 PTQ) are bit-exact on one and four cores.

Slow (whole networks through the functional simulator): ``make test-all`` runs them. Inputs are
reduced to 64x64 where the network allows it; the int8 recipes do not depend on the input size.
"""

from __future__ import annotations

import pytest

from aics.compiler.workflow import quantized_model, simulate
from aics.dlp.arch_io import load_arch

SMALL = (1, 3, 64, 64)
MODELS = [
    ("lenet5", None), ("resnet18", SMALL), ("resnet50", SMALL), ("mobilenet_v2", SMALL),
    ("mobilenet_v1", (1, 3, 224, 224)), ("shufflenet_v2_x1_0", SMALL), ("squeezenet1_1", SMALL),
    ("googlenet", SMALL), ("digits_resnet", None), ("alexnet", SMALL), ("vgg16", SMALL), ("densenet121", SMALL),
    ("se_resnet50", SMALL), ("vit_tiny", None), ("conv_autoencoder", None),
]


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["edge-int8", "edge-int8-4core"])
@pytest.mark.parametrize("model,shape", MODELS, ids=[m for m, _ in MODELS])
def test_zoo_model_bit_exact(model, shape, arch) -> None:
    report = simulate(quantized_model(model, input_shape=shape, calib_size=2), load_arch(arch)).report
    assert report["bit_exact"], report["max_abs_diff"]
    assert report["cycles"] >= report["roofline_bound_cycles"]
