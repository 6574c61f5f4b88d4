"""batch_norm (unfoldable, after a concat) and layer_norm replay the reference's float32 recipe
on the vector unit: bit-exact on 1 and 4 cores, whatever the chunking."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from aics.compiler.compile import compile_graph
from aics.dlp.arch_io import load_arch, with_overrides
from aics.errors import CompileError

from .conftest import ARCHS, simulate_exact


class DenseBlock(nn.Module):
    """DenseNet's pattern: concat, then a batch norm that cannot fold into a conv."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(16)
        self.c = nn.Conv2d(16, 8, 1)

    def forward(self, x):
        a = self.a(x)
        y = torch.cat([a, self.b(torch.relu(a))], 1)
        return self.c(torch.relu(self.bn(y)))


def _dense(qmodule, shape):
    module = DenseBlock()
    with torch.no_grad():
        module.bn.running_mean.uniform_(-0.5, 0.5)
        module.bn.running_var.uniform_(0.5, 2.0)
    return qmodule(module, shape)


class Block(nn.Module):
    """A transformer MLP block's norms: layer_norm with and without affine parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(48, 48)
        self.ln = nn.LayerNorm(48, eps=1e-6)
        self.bare = nn.LayerNorm(48, elementwise_affine=False)

    def forward(self, x):
        return self.bare(self.fc(self.ln(x)))


@pytest.mark.parametrize("arch", ARCHS)
def test_unfoldable_batch_norm_bit_exact(qmodule, arch) -> None:
    sim = simulate_exact(_dense(qmodule, (1, 3, 10, 10)), load_arch(arch))
    assert "batch_norm" in {layer["op"] for layer in sim.report["layers"]}


def test_batch_norm_channel_cut_into_pieces(qmodule) -> None:
    arch = with_overrides(load_arch("edge-int8"), {"memory.nram_kib": 6})
    simulate_exact(_dense(qmodule, (1, 3, 24, 24)), arch, seed=2)


@pytest.mark.parametrize("arch", ARCHS)
def test_layer_norm_bit_exact(qmodule, arch) -> None:
    sim = simulate_exact(qmodule(Block(), (1, 37, 48)), load_arch(arch))
    assert [layer["op"] for layer in sim.report["layers"]].count("layer_norm") == 2


def test_layer_norm_rows_in_small_chunks(qmodule) -> None:
    arch = with_overrides(load_arch("edge-int8"), {"memory.nram_kib": 8})
    sim = simulate_exact(qmodule(Block(), (1, 37, 48)), arch, seed=4)
    reduces = [i for i in sim.compiled.program.code[0] if type(i).__name__ == "Reduce"]
    assert max(i.rows for i in reduces) < 37


def test_layer_norm_row_too_long_names_layer_and_bytes(qmodule) -> None:
    arch = with_overrides(load_arch("edge-int8"), {"memory.nram_kib": 6})
    graph = qmodule(nn.Sequential(nn.LayerNorm(1024)), (1, 4, 1024))
    with pytest.raises(CompileError, match=r"layer '0': one row of layer_norm needs [\d,]+ bytes of NRAM"):
        compile_graph(graph, arch)
