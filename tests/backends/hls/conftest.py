"""Shared fixtures of the HLS backend tests: models quantized the way ``aics hls`` does it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from torch import nn

from aics.backends.hls import CsimResult, HlsProject, build_project, csim, seeded_inputs, write_project
from aics.compress.quant import QuantPlan, quantize_graph
from aics.ir.graph import Graph
from aics.ir.torch_import import import_module

SCHEMES = ("int8", "fixed:Q2.6", "fixed:Q2.6:sat")


def quantize_module(module: nn.Module, shape: tuple[int, ...], scheme: str, name: str = "model",
                    calib: np.ndarray | None = None) -> Graph:
    """PTQ of ``module`` at batch 1, calibrated on ``calib`` or 16 seeded standard-normal inputs."""
    graph = import_module(module.eval(), shape, name=name)
    if calib is None:
        calib = np.random.default_rng(0).standard_normal((16, *shape[1:])).astype(np.float32)
    return quantize_graph(graph, calib, QuantPlan(default=scheme))


def emit_and_csim(graph: Graph, outdir: Path, x: np.ndarray | None = None,
                  opt: str = "-O1") -> tuple[HlsProject, CsimResult]:
    project = build_project(graph)
    write_project(project, outdir)
    return project, csim(project, outdir, seeded_inputs(graph, 2) if x is None else x, opt)


@pytest.fixture(scope="session")
def trained_lenet() -> tuple[nn.Module, object]:
    """LeNet-5 trained 3 epochs on the digits at 32x32 (about 95 % test accuracy), and its split."""
    from aics.data import load_digits
    from aics.data.digits import config_for_shape
    from aics.train import TrainConfig, deterministic, train
    from aics.zoo.lenet import LeNet5

    with deterministic(0):
        model = LeNet5()
    split = load_digits(config_for_shape((1, 1, 32, 32)))
    train(model, split, TrainConfig(epochs=3), progress=False)
    return model, split
