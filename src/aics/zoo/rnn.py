"""Recurrent sequence classifiers: token ids -> Embedding -> nn.LSTM (Hochreiter & Schmidhuber 1997) or
nn.GRU (Cho et al. 2014), batch_first -> hidden state of the last time step -> Linear.

Defaults: vocabulary 10,000, embedding 128, hidden 256, 64 tokens, 2 classes (sentiment-style).
``lstm_seq`` stacks two LSTM layers, ``gru_seq`` has one GRU layer.
"""

from __future__ import annotations

import torch
from torch import nn

from aics.zoo.registry import ZooEntry

_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


class SeqClassifier(nn.Module):
    def __init__(self, cell: str = "lstm", vocab: int = 10000, embed: int = 128, hidden: int = 256,
                 num_layers: int = 1, num_classes: int = 2) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.rnn = _CELLS[cell](embed, hidden, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out = self.rnn(self.embedding(ids))[0]  # (batch, time, hidden)
        return self.fc(out[:, -1])


_SHAPE, _RANGE = (1, 64), (0, 10000)
ENTRIES = [
    ZooEntry("lstm_seq", SeqClassifier, _SHAPE, "2-layer LSTM classifier (Hochreiter & Schmidhuber 1997); input 1x64 int64 token ids",
             {"cell": "lstm", "num_layers": 2}, input_dtype="int64", input_range=_RANGE),
    ZooEntry("gru_seq", SeqClassifier, _SHAPE, "1-layer GRU classifier (Cho et al. 2014); input 1x64 int64 token ids",
             {"cell": "gru", "num_layers": 1}, input_dtype="int64", input_range=_RANGE),
]
