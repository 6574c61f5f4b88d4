"""BN folding: the folded graph computes what the unfolded one does, with fewer nodes."""

import numpy as np
import torch
from torch import nn

from aics.compiler.passes import fold_bn
from aics.ir.torch_import import import_module
from aics.ir.verify import verify
from aics.reference import run


def _randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen))
            m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            m.weight.data.copy_(torch.randn(c, generator=gen))
            m.bias.data.copy_(torch.randn(c, generator=gen))
    return model.eval()


class ConvBn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, groups=8)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 6 * 6, 16)
        self.bn3 = nn.BatchNorm1d(16)
        self.bn4 = nn.BatchNorm1d(16)  # reads a batch_norm, not a layer: stays

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn(self.conv(x)))
        x = self.bn2(self.dw(x))
        return self.bn4(self.bn3(self.fc(torch.flatten(x, 1))))


def _x(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_folded_graph_matches_unfolded_and_torch():
    model = _randomise_bn(ConvBn())
    graph = import_module(model, (2, 3, 8, 8))
    folded = verify(fold_bn(graph))
    ops = [n.op for n in folded.nodes]
    assert ops.count("batch_norm") == 1  # bn4 follows bn3, not a layer
    assert "bn" not in folded and "conv" in folded
    x = _x((2, 3, 8, 8))
    before, after = run(graph, x)[0], run(folded, x)[0]
    torch_out = model(torch.from_numpy(x)).detach().numpy()
    scale = np.abs(torch_out).max()
    assert np.abs(after - before).max() < 1e-5 * scale
    assert np.abs(after - torch_out).max() < 1e-5 * scale


def test_folded_weights_keep_state_dict_names():
    model = _randomise_bn(ConvBn())
    folded = fold_bn(import_module(model, (1, 3, 8, 8)))
    # conv had no bias: one is created; the weight keeps its state_dict name with new values
    conv = folded["conv"]
    assert conv.inputs[1] == "conv.weight" and conv.inputs[2] == "conv.bias"
    s = model.bn.weight / torch.sqrt(model.bn.running_var + model.bn.eps)
    expect = (model.conv.weight * s.reshape(-1, 1, 1, 1)).detach().numpy()
    np.testing.assert_allclose(folded.params["conv.weight"], expect, rtol=1e-6, atol=1e-7)
    assert not any(name.startswith("bn.") for name in folded.params)


def test_shared_weight_is_copied_not_overwritten():
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 1)
            self.bn = nn.BatchNorm2d(4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.bn(self.conv(x)) + self.conv(x)

    torch.manual_seed(0)
    model = _randomise_bn(Tied())
    graph = import_module(model, (1, 4, 5, 5))
    folded = verify(fold_bn(graph))
    assert "batch_norm" not in [n.op for n in folded.nodes]
    x = _x((1, 4, 5, 5))
    np.testing.assert_allclose(run(folded, x)[0], run(graph, x)[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(folded.params["conv.weight"], graph.params["conv.weight"])


def test_graph_without_batch_norm_is_returned_unchanged():
    graph = import_module(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), (1, 1, 6, 6))
    assert fold_bn(graph) is graph


def test_batch_norm_whose_layer_output_is_also_read_elsewhere_stays():
    class Branch(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 1)
            self.bn = nn.BatchNorm2d(2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            return self.bn(y) + y

    graph = import_module(_randomise_bn(Branch()), (1, 2, 4, 4))
    assert [n.op for n in fold_bn(graph).nodes].count("batch_norm") == 1
