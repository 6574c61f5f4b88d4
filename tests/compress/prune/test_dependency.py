"""Coupling patterns the dependency graph must get right, checked on the pruned modules themselves."""

from __future__ import annotations

import copy

import torch

from aics import zoo
from aics.compress.prune import L1, Budget, DependencyGraph
from aics.compress.prune.apply import apply_removal
from aics.compress.prune.select import choose


def _prune(name: str, shape: tuple[int, ...], pick) -> torch.nn.Module:
    torch.manual_seed(0)
    model = zoo.get(name).build()
    dep = DependencyGraph.build(copy.deepcopy(model), shape)
    removed = {dep.class_root[(g.index, c)] for g in dep.groups if pick(g) for c in [0]}
    return apply_removal(dep.model, dep, removed)


def test_attention_prunes_whole_heads() -> None:
    torch.manual_seed(0)
    dep = DependencyGraph.build(zoo.get("vit_tiny").build(), (1, 3, 32, 32))
    heads = [g for g in dep.groups if g.name.endswith("attn.qkv")]
    assert len(heads) == 6 and all(g.size == 3 for g in heads)  # 3 heads per block, each one class
    pruned = _prune("vit_tiny", (1, 3, 32, 32), lambda g: g.name == "blocks.0.attn.qkv")
    attn = pruned.get_submodule("blocks.0.attn")
    assert (attn.qkv.out_features, attn.proj.in_features) == (2 * 3 * 64, 2 * 64)
    assert pruned(torch.randn(2, 3, 32, 32)).shape == (2, 10)  # batch 2: the rewritten reshapes stay dynamic


def test_grouped_and_depthwise_convs_keep_valid_groups() -> None:
    torch.manual_seed(0)
    model = zoo.get("resnext50_32x4d").build()
    dep = DependencyGraph.build(copy.deepcopy(model), (1, 3, 64, 64))
    removed = choose(dep, {g.index: L1()(g) for g in dep.groups}, Budget(ratio=0.5), "local")
    pruned = apply_removal(dep.model, dep, removed)
    conv = pruned.get_submodule("layer1.0.conv2")
    assert conv.groups == 32 and conv.in_channels % 32 == 0 and conv.out_channels % 32 == 0
    assert conv.in_channels < 128
    mobile = _prune("mobilenet_v2", (1, 3, 64, 64),
                    lambda g: any(m.param == "features.1.conv.0.0.weight" for m in g.members))
    dw = mobile.get_submodule("features.1.conv.0.0")
    assert dw.groups == dw.in_channels == dw.out_channels == 31


def test_split_sizes_are_rewritten() -> None:
    pruned = _prune("res2net50", (1, 3, 64, 64), lambda g: g.name == "layer1.0.conv1")
    block = pruned.get_submodule("layer1.0")
    assert block.conv1.out_channels == 26 * 4 - 1
    assert pruned(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


class _OffsetGroups(torch.nn.Module):
    """ShuffleNet v1's first stage: a concat puts a grouped conv's output (groups of 72) at an
    offset (24) that is no multiple of the next grouped conv's group width (80). Tying "position j
    of every group" in both convs chains the 240 channels into gcd(72, 80) = 8 classes; balancing
    counts finds 56 blocks of 3 channels and 8 of 9."""

    def __init__(self) -> None:
        super().__init__()
        self.s = torch.nn.Conv2d(3, 6, 1)
        self.a, self.b = torch.nn.Conv2d(6, 24, 1), torch.nn.Conv2d(6, 216, 1, groups=3, bias=False)
        self.g = torch.nn.Conv2d(240, 12, 3, padding=1, groups=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.s(x))
        return self.g(torch.relu(torch.cat([self.a(x), self.b(x)], 1)))


def test_grouped_conv_balances_counts_not_positions() -> None:
    from .helpers import masked

    torch.manual_seed(0)
    model, shape = _OffsetGroups().eval(), (1, 3, 8, 8)
    dep = DependencyGraph.build(copy.deepcopy(model), shape)
    trunk = next(g for g in dep.groups if g.name == "a")
    assert trunk.prunable == 64
    removed = choose(dep, {g.index: L1()(g) for g in dep.groups}, Budget(ratio=0.5), "global")
    reference = DependencyGraph.build(copy.deepcopy(model), shape)
    masked(reference, removed)
    x = torch.randn(shape)
    pruned = apply_removal(dep.model, dep, removed)
    assert pruned.g.groups == 3 and pruned.g.in_channels < 240
    with torch.no_grad():
        torch.testing.assert_close(pruned(x), reference.gm(x), rtol=1e-5, atol=1e-5)
