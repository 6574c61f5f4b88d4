"""Self-attention on the DLP: batched matmul of two activations (zero points on both sides) and
the integer softmax instruction, bit-exact on 1 and 4 cores and when tiles are small."""

from __future__ import annotations

import pytest
from torch import nn

from aics.compiler.compile import compile_graph
from aics.compiler.workflow import simulate
from aics.dlp.arch_io import load_arch, with_overrides
from aics.errors import CompileError

from .conftest import ARCHS, simulate_exact


class Attention(nn.Module):
    def __init__(self, dim: int = 32, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        y = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, t, d)
        return self.proj(y)


@pytest.mark.parametrize("arch", ARCHS)
def test_attention_bit_exact(qmodule, arch) -> None:
    sim = simulate_exact(qmodule(Attention(), (1, 17, 32)), load_arch(arch))
    ops = [layer["op"] for layer in sim.report["layers"]]
    assert ops.count("matmul") == 2 and "softmax" in ops


class BareAttention(nn.Module):
    def forward(self, x):
        return (x @ x.transpose(-2, -1)).softmax(dim=-1) @ x


def test_matmul_tiles_rows_and_columns_when_buffers_are_small(qmodule) -> None:
    arch = with_overrides(load_arch("edge-int8"), {"memory.nram_kib": 8, "memory.wram_kib": 4})
    sim = simulate_exact(qmodule(BareAttention(), (1, 2, 130, 64)), arch, seed=3)
    matmuls = [i for i in sim.compiled.program.code[0] if type(i).__name__ == "MatMul"]
    assert max(i.m for i in matmuls) < 130 and min(i.n for i in matmuls) < 130


def test_matmul_column_that_cannot_fit_names_layer_and_bytes(qmodule) -> None:
    arch = with_overrides(load_arch("edge-int8"), {"memory.wram_kib": 4})

    class Gram(nn.Module):
        def forward(self, x):
            return x @ x.transpose(1, 2)

    graph = qmodule(Gram(), (1, 4, 4096))
    with pytest.raises(CompileError, match=r"one column of B needs 4,096 bytes of WRAM"):
        compile_graph(graph, arch)


def test_softmax_along_another_axis_runs_on_the_host(qmodule) -> None:
    class ColumnSoftmax(nn.Module):
        def forward(self, x):
            return (x @ x.transpose(1, 2)).softmax(dim=1)

    sim = simulate(qmodule(ColumnSoftmax(), (1, 6, 8)), load_arch("edge-int8"))
    assert sim.report["bit_exact"]
    host = sim.compiled.program.host_ops
    assert len(host) == 1 and host[0].name.startswith("softmax")
