"""Dead-node elimination, constant folding and the verified pipeline."""

import numpy as np
import torch
from torch import nn

from aics.compiler.passes.eliminate_dead import eliminate_dead
from aics.compiler.passes.fold_constants import fold_constants
from aics.compiler.pipeline import optimize
from aics.ir import attrs as A
from aics.ir.graph import GraphBuilder
from aics.ir.torch_import import import_module
from aics.ir.verify import verify
from aics.reference import run


def test_dead_nodes_and_their_constants_go():
    b = GraphBuilder("g")
    x = b.input("x", (1, 4))
    w = b.const("w", (2, 4), data=np.ones((2, 4), np.float32))
    unused_w = b.const("unused_w", (3, 4), data=np.ones((3, 4), np.float32))
    y = b.op("linear", [x, w], A.NoAttrs(), "fc")
    b.op("linear", [x, unused_w], A.NoAttrs(), "dead_fc")
    g = verify(eliminate_dead(b.build([y])))
    assert [n.name for n in g.nodes] == ["x", "w", "fc"]
    assert set(g.params) == {"w"}


def test_constant_subgraphs_fold_to_weights():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(5, 3))
            self.scale = 0.5

        def forward(self, x):
            return x @ (self.w.t() * self.scale)  # transpose and scale are constant work

    m = M()
    g = import_module(m, (2, 3))
    folded = verify(fold_constants(g))
    assert [n.op for n in folded.nodes if n.op not in ("input", "const")] == ["matmul"]
    assert sum(n.numel for n in folded.nodes if n.op == "const" and n.attrs.trainable) >= 15
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(run(eliminate_dead(folded), x)[0], m(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_pipeline_records_each_pass_and_keeps_outputs():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    with torch.no_grad():
        m[1].running_mean.uniform_(-1, 1)
        m[1].running_var.uniform_(0.5, 2)
    g = import_module(m, (1, 3, 8, 8))
    out, records = optimize(g)
    assert [r.name for r in records] == ["fold_constants", "fold_bn", "eliminate_dead"]
    assert "batch_norm" not in {n.op for n in out.nodes}
    assert records[1].nodes_after < records[1].nodes_before
    x = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(run(out, x)[0], m(torch.from_numpy(x)).detach().numpy(), rtol=1e-4, atol=1e-5)
