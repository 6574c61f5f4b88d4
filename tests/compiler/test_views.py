"""Concats and slices without copies: producers write into their slot of a concat's output,
contiguous slices are views of their input (``compiler.views``); the program stays bit-exact."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from aics.compiler.compile import compile_graph
from aics.dlp.arch_io import load_arch
from aics.dlp.isa import Move

from .conftest import ARCHS, simulate_exact


class GrowingConcats(nn.Module):
    """DenseNet's block: each layer reads the concat of every earlier output."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.layers = nn.ModuleList(nn.Conv2d(8 + 4 * i, 4, 3, padding=1) for i in range(3))

    def forward(self, x):
        features = [torch.relu(self.stem(x))]
        for conv in self.layers:
            features.append(torch.relu(conv(torch.cat(features, 1))))
        return torch.cat(features, 1)


@pytest.fixture(scope="module")
def growing(qmodule):
    return qmodule(GrowingConcats(), (1, 3, 8, 8))


@pytest.mark.parametrize("arch", ARCHS)
def test_growing_concats_cost_no_instruction(growing, arch) -> None:
    sim = simulate_exact(growing, load_arch(arch))
    assert not any(layer.op == "concat" for layer in sim.compiled.layers)
    symbols = sim.compiled.program.symbols
    features = [n.name for n in growing.nodes if n.op == "relu"]
    # no feature map and no concat has a DRAM region of its own: all lie in the last concat's
    assert len(features) == 4 and not set(features) & set(symbols)
    assert [c.name for c in growing.nodes if c.op == "concat" and c.name in symbols] == [growing.outputs[0]]
    assert symbols[growing.outputs[0]][1] == 20 * 8 * 8


def test_growing_concats_place_each_feature_map_in_its_slot(growing) -> None:
    compiled = compile_graph(growing, load_arch("edge-int8"))
    # the four producers write straight into the output: no DRAM -> DRAM move anywhere
    moves = [i for i in compiled.program.code[0] if isinstance(i, Move)
             and i.src.space.name == "DRAM" and i.dst.space.name == "DRAM"]
    assert moves == []
    out = compiled.program.outputs[0]
    stores = sorted({i.dst.addr for i in compiled.program.code[0] if isinstance(i, Move)
                     and i.dst.space.name == "DRAM"})
    assert stores[0] == out.addr and stores[-1] < out.addr + 20 * 64


def test_split_halves_are_views_and_concat_copies_only_what_it_must(shuffle_graph) -> None:
    sim = simulate_exact(shuffle_graph, load_arch("edge-int8"))
    layers = {layer.op: layer for layer in sim.compiled.layers}
    names = [layer.name for layer in sim.compiled.layers]
    chunks = [n.name for n in shuffle_graph.nodes if n.op == "slice" and n.attrs.axis == 1]
    assert chunks and not set(chunks) & set(names)  # the channel halves are views
    concat = layers["concat"]
    copies = [i for i in sim.compiled.program.code[0] if i.tag == concat.tag]
    assert len(copies) == 1  # the untouched half (a view, so it cannot be placed); the branch wrote its slot


def test_concat_with_its_own_params_still_converts(shuffle_graph) -> None:
    """A quantized graph from elsewhere may give a concat other params than its inputs: then it
    is a real layer again (DMA through NRAM + rescale) and stays exact."""
    cat = next(n for n in shuffle_graph.nodes if n.op == "concat")
    qp = shuffle_graph.quant[cat.name]
    other = dataclasses.replace(qp, scale=(qp.scale[0] * 1.5,), zero_point=(qp.zero_point[0] // 2,))
    # the channel shuffle after it shares the concat's params (TFLite): move them along
    after = shuffle_graph.nodes[shuffle_graph.nodes.index(cat):]
    shared = {n.name: other for n in after if shuffle_graph.quant.get(n.name) == qp}
    graph = shuffle_graph.with_nodes(shuffle_graph.nodes, quant={**shuffle_graph.quant, **shared})
    sim = simulate_exact(graph, load_arch("edge-int8"))
    assert any(layer.op == "concat" for layer in sim.compiled.layers)
    ops = {type(i).__name__ for i in sim.compiled.program.code[0]
           if i.tag == next(layer.tag for layer in sim.compiled.layers if layer.op == "concat")}
    assert "Rescale" in ops


class OddConcats(nn.Module):
    """A concat taking one tensor twice, and one putting a tensor's two halves back together."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.mix = nn.Conv2d(24, 8, 1)

    def forward(self, x):
        a = torch.relu(self.conv(x))
        lo, hi = a.chunk(2, dim=1)
        again = torch.cat([lo, hi], 1)  # the same bytes as a
        return self.mix(torch.cat([a, a, again], 1))


@pytest.mark.parametrize("arch", ARCHS)
def test_repeated_operands_and_rejoined_halves_stay_exact(qmodule, arch) -> None:
    graph = qmodule(OddConcats(), (1, 3, 8, 8))
    sim = simulate_exact(graph, load_arch(arch))
    concats = [n.name for n in graph.nodes if n.op == "concat"]
    layers = {layer.name for layer in sim.compiled.layers}
    assert concats[0] not in layers  # the halves of a, rejoined: a view of a
    assert concats[1] in layers  # [a, a, again]: copied
