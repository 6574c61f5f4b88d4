"""conv_transpose2d (direct, and through the zero-point scratch for strides and crops) and
adaptive average pooling to any size: bit-exact on 1 and 4 cores."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from aics.dlp.arch_io import load_arch, with_overrides

from .conftest import ARCHS, simulate_exact


def _decoder(**kw) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.ConvTranspose2d(8, 6, **kw), nn.ReLU())


TRANSPOSED = {
    "stride1": dict(kernel_size=3),
    "stride1_pad": dict(kernel_size=3, padding=1),
    "stride2": dict(kernel_size=2, stride=2),
    "stride2_pad_outpad": dict(kernel_size=3, stride=2, padding=1, output_padding=1),
    "groups": dict(kernel_size=3, padding=1, groups=2),
    "groups_dilation": dict(kernel_size=3, stride=(2, 1), dilation=2, groups=2),
    "crop": dict(kernel_size=2, padding=2),
}


STRIDE_ONE = {
    "big_kernel": dict(kernel_size=9),
    "dilation_output_padding": dict(kernel_size=3, padding=2, dilation=2, output_padding=1),
    "crop": dict(kernel_size=5, padding=3),
}


def _kinds(sim) -> set[str]:
    tag = next(info.tag for info in sim.compiled.layers if info.op == "conv_transpose2d")
    return {type(i).__name__ for core in sim.compiled.program.code for i in core if i.tag == tag}


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("case", list(TRANSPOSED))
def test_conv_transpose_bit_exact(qmodule, case, arch) -> None:
    sim = simulate_exact(qmodule(_decoder(**TRANSPOSED[case]), (1, 3, 7, 6)), load_arch(arch))
    ops = [layer["op"] for layer in sim.report["layers"]]
    assert "conv_transpose2d" in ops and "relu" not in ops  # the relu is the requant's clamp


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("form", ["col2im", "conv"])
@pytest.mark.parametrize("case", list(STRIDE_ONE))
def test_stride_one_conv_transpose_in_both_forms(qmodule, monkeypatch, case, form, arch) -> None:
    from aics.compiler.lower import transpose

    monkeypatch.setattr(transpose, "use_col2im", lambda col2im, direct: form == "col2im")
    sim = simulate_exact(qmodule(_decoder(**STRIDE_ONE[case]), (1, 3, 7, 6)), load_arch(arch))
    assert ("MatMul" in _kinds(sim)) == (form == "col2im") and ("Conv" in _kinds(sim)) == (form == "conv")


def test_col2im_tiles_output_channels_when_nram_is_small(qmodule, monkeypatch) -> None:
    from aics.compiler.lower import transpose

    monkeypatch.setattr(transpose, "use_col2im", lambda col2im, direct: True)
    arch = with_overrides(load_arch("edge-int8"), {"memory.nram_kib": 24})
    graph = qmodule(nn.Sequential(nn.ConvTranspose2d(16, 32, 9)), (1, 16, 8, 8))
    sim = simulate_exact(graph, arch, seed=2)
    requants = [i for i in sim.compiled.program.code[0] if type(i).__name__ == "Requant"]
    assert "MatMul" in _kinds(sim) and len(requants) > 1


def test_conv_transpose_tiles_when_buffers_are_small(qmodule) -> None:
    arch = with_overrides(load_arch("edge-int8"), {"memory.nram_kib": 8, "memory.wram_kib": 2})
    graph = qmodule(_decoder(kernel_size=4, stride=2, padding=1), (1, 3, 12, 12))
    simulate_exact(graph, arch, seed=5)


class AdaptivePool(nn.Module):
    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.size = size

    def forward(self, x):
        return nn.functional.adaptive_avg_pool2d(torch.relu(self.conv(x)), self.size)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("shape,size", [((1, 3, 2, 2), (7, 7)), ((1, 3, 9, 11), (4, 3)), ((1, 3, 5, 5), (5, 1))])
def test_adaptive_average_pool_any_size(qmodule, shape, size, arch) -> None:
    sim = simulate_exact(qmodule(AdaptivePool(size), shape), load_arch(arch))
    assert "adaptive_avg_pool2d" in {layer["op"] for layer in sim.report["layers"]}


def test_adaptive_average_pool_in_channel_chunks(qmodule) -> None:
    arch = with_overrides(load_arch("edge-int8"), {"memory.nram_kib": 8})
    simulate_exact(qmodule(AdaptivePool((3, 3)), (1, 3, 16, 16)), arch, seed=1)
