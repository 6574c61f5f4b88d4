"""Multi-layer perceptrons of the textbook exercises (seeds/001_*).

* ``fulladder_mlp``: exercise 2.11, a 4-bit adder: a (4 bits) + b (4 bits) + carry-in = 9 inputs,
  4 sum bits + carry-out = 5 outputs, two hidden layers of 20 (the 9-20-20-5 of exercise 2.12's C++
  version). Hidden activation ReLU as in the exercise's PyTorch solution (its C++ re-implementation
  uses sigmoid: ``act="sigmoid"``); the output layer gives logits, one per bit.
  725 params: 9*20+20 + 20*20+20 + 20*5+5; 680 MACs.
* ``mnist_mlp``: exercise 5.12's "three-layer fully connected network" on MNIST. The exercise leaves
  the sizes open; we use 784-256-128-10 with ReLU (``sizes`` changes them).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from aics.zoo.registry import ZooEntry

_ACTS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class MLP(nn.Module):
    def __init__(self, sizes: Sequence[int], act: str = "relu") -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(cin, cout))
            if i < len(sizes) - 2:
                layers.append(_ACTS[act]())
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


ENTRIES = [
    ZooEntry("fulladder_mlp", MLP, (1, 9), "4-bit full-adder MLP 9-20-20-5 (AICS exercise 2.11); input 1x9",
             {"sizes": (9, 20, 20, 5)}),
    ZooEntry("mnist_mlp", MLP, (1, 784), "MNIST three-layer MLP 784-256-128-10 (AICS exercise 5.12); input 1x784",
             {"sizes": (784, 256, 128, 10)}),
]
