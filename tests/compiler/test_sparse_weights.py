"""Sparse weights (exercise 7.10): bitmap-encoded tiles in the DRAM image, ``load_sparse`` DMAs,
fewer DRAM bytes, the same outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from aics.compiler.workflow import simulate
from aics.compress.quant import quantize_graph
from aics.dlp.arch_io import load_arch, with_overrides
from aics.dlp.isa import LoadSparse
from aics.ir.torch_import import import_module


def _net(sparsity: float) -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(8, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 16, 3, padding=1),
                        nn.ReLU(), nn.Flatten(), nn.Linear(16 * 8 * 8, 64), nn.ReLU(), nn.Linear(64, 10))
    with torch.no_grad():
        for m in net:
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                w = m.weight
                w.uniform_(-0.5, 0.5)
                cut = w.abs().flatten().kthvalue(max(1, int(sparsity * w.numel()))).values
                w[w.abs() <= cut] = 0.0  # magnitude pruning to the given sparsity
    return net.eval()


def _quantized(sparsity: float):
    graph = import_module(_net(sparsity), (1, 8, 8, 8))
    calib = np.random.default_rng(0).standard_normal((4, 8, 8, 8)).astype(np.float32)
    return quantize_graph(graph, calib)


@pytest.mark.parametrize("arch_name", ["edge-int8", "edge-int8-4core"])
def test_sparse_weights_cut_dram_bytes_and_stay_bit_exact(arch_name) -> None:
    arch = load_arch(arch_name)
    sparse = simulate(_quantized(0.8), arch, seed=1)
    dense = simulate(_quantized(0.0), arch, seed=1)
    assert sparse.report["bit_exact"] and dense.report["bit_exact"]
    loads = [i for code in sparse.compiled.program.code for i in code if isinstance(i, LoadSparse)]
    assert loads and not any(isinstance(i, LoadSparse) for code in dense.compiled.program.code for i in code)
    weights = sum(i.n for i in loads)
    assert sum(i.encoded_bytes for i in loads) < 0.35 * weights  # 1/8 bitmap + ~20 % non-zeros
    assert sparse.report["dram_bytes"] < dense.report["dram_bytes"]
    assert sparse.report["cycles"] <= dense.report["cycles"]


def test_mildly_sparse_weights_stay_dense() -> None:
    program = simulate(_quantized(0.05), load_arch("edge-int8"), functional=False).compiled.program
    assert not any(isinstance(i, LoadSparse) for i in program.code[0])


def test_block_diagonal_depthwise_tiles_travel_encoded() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1, groups=64), nn.ReLU()).eval()
    graph = import_module(net, (1, 64, 28, 28))
    q = quantize_graph(graph, np.random.default_rng(0).standard_normal((4, 64, 28, 28)).astype(np.float32))
    # a narrow vector unit: the depthwise layer runs on the array as block-diagonal tiles
    s = simulate(q, with_overrides(load_arch("edge-int8"), {"vector.lanes": 4}), seed=2)
    assert s.report["bit_exact"]
    tiles = [i for i in s.compiled.program.code[0] if isinstance(i, LoadSparse)]
    # dense tiles of o_t channels hold o_t * o_t * 9 weights, of which only o_t * 9 are the layer's
    assert tiles and sum(i.nnz for i in tiles) <= 64 * 9 and all(i.n >= 16 * i.nnz for i in tiles)
