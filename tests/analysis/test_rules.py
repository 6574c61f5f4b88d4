"""Per-op counting rules on small hand-checked modules."""

import torch
from torch import nn

from aics.analysis.analyze import analyze
from aics.ir.torch_import import import_module


def _layers(module, shape, dtype="float32"):
    a = analyze(import_module(module.eval(), shape, dtype))
    return {lc.op: lc.counts for lc in a.layers}, a.total


def test_grouped_dilated_conv():
    """8->16 channels, groups 4, 3x3, dilation 2, pad 2, on 10x10: out 16x10x10, K = 2*9 = 18."""
    ops, total = _layers(nn.Conv2d(8, 16, 3, padding=2, dilation=2, groups=4), (1, 8, 10, 10))
    c = ops["conv2d"]
    assert c.macs == 1600 * 18 and c.mults == c.macs
    assert c.adds == 1600 * 17 + 1600  # K-1 per output, plus the bias
    assert c.params == 16 * 2 * 9 + 16 and c.neurons == 1600


def test_depthwise_conv_without_bias():
    ops, _ = _layers(nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False), (1, 32, 8, 8))
    assert ops["conv2d"].macs == 32 * 64 * 9
    assert ops["conv2d"].adds == 32 * 64 * 8


def test_conv_transpose_counts_every_scattered_product():
    """Each of the 4*5*5 inputs meets 3*3*3 weights: 2700 MACs; output 3x11x11 (stride 2)."""
    ops, _ = _layers(nn.ConvTranspose2d(4, 3, 3, stride=2), (1, 4, 5, 5))
    c = ops["conv_transpose2d"]
    assert c.macs == 100 * 27
    assert c.params == 4 * 3 * 9 + 3
    assert c.adds == 2700 - 3 * 11 * 11 + 3 * 11 * 11


def test_lstm_formula():
    """One layer, H=8, I=4, T=5: per step 4*8*(4+8) = 384 MACs -> 1920."""
    m = nn.LSTM(4, 8, batch_first=True)
    a = analyze(import_module(m, (1, 5, 4)))
    c = next(lc.counts for lc in a.layers if lc.op == "lstm")
    assert c.macs == 5 * 384
    assert c.params == 4 * 8 * (4 + 8) + 2 * 32
    assert c.mults == 5 * (384 + 3 * 8)
    assert c.neurons == 5 * 8


def test_gru_two_layers_bidirectional():
    m = nn.GRU(4, 8, num_layers=2, batch_first=True, bidirectional=True)
    a = analyze(import_module(m, (1, 3, 4)))
    c = next(lc.counts for lc in a.layers if lc.op == "gru")
    # layer 0: input 4; layer 1: input 16 (both directions); 2 directions, 3 steps each.
    assert c.macs == 3 * 2 * 3 * 8 * (4 + 8) + 3 * 2 * 3 * 8 * (16 + 8)
    assert c.params == sum(p.numel() for p in m.parameters())


def test_attention_matmuls_are_counted():
    """MHA over L=6 tokens, E=8, 2 heads: projections 4*6*8*8 and matmuls 2 * 2*6*6*4."""
    m = nn.MultiheadAttention(8, 2, batch_first=True)

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m(x, x, x)[0]

    a = analyze(import_module(Wrap(), (1, 6, 8)))
    matmuls = [lc.counts.macs for lc in a.layers if lc.op == "matmul"]
    assert matmuls == [2 * 6 * 6 * 4, 2 * 6 * 6 * 4]
    assert a.total.macs == 4 * 6 * 8 * 8 + sum(matmuls)
    assert a.total.params == sum(p.numel() for p in m.parameters())


def test_pooling_and_elementwise():
    class M(nn.Module):
        def forward(self, x):
            y = nn.functional.max_pool2d(x, 2) + nn.functional.avg_pool2d(x, 2)
            return nn.functional.adaptive_avg_pool2d(torch.relu(y), 1)

    ops, total = _layers(M(), (1, 2, 4, 4))
    assert ops["max_pool2d"].other == 8 * 3
    assert (ops["avg_pool2d"].adds, ops["avg_pool2d"].mults) == (8 * 3, 8)
    assert ops["add"].adds == 8
    assert (ops["adaptive_avg_pool2d"].adds, ops["adaptive_avg_pool2d"].mults) == (8 - 2, 2)
    assert total.macs == 0 and total.params == 0


def test_bytes_and_intensity():
    ops, total = _layers(nn.Linear(16, 4), (2, 16))
    c = ops["linear"]
    assert (c.in_bytes, c.out_bytes, c.weight_bytes) == (2 * 16 * 4, 2 * 4 * 4, (64 + 4) * 4)
    assert c.intensity == c.macs / (128 + 32 + 272)


def test_tied_weights_counted_once():
    emb = nn.Embedding(10, 4)

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.head = emb, nn.Linear(4, 10, bias=False)
            self.head.weight = emb.weight

        def forward(self, ids):
            return self.head(self.emb(ids))

    _, total = _layers(Tied(), (1, 3), "int64")
    assert total.params == 40
