"""LSTM and GRU over a whole batch-first sequence, PyTorch's equations and gate order, float32.

These run on the host CPU in every numerics (the integer executor dequantizes their input and
quantizes their output); the loop is over time steps, each step one matmul per gate block.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from aics.ir import attrs as A
from aics.reference.functions import sigmoid


def _layers(a: A.RnnAttrs, weights: tuple[np.ndarray, ...]) -> list[list[tuple[np.ndarray, ...]]]:
    """Weights grouped per layer, then per direction: (w_ih, w_hh, b_ih, b_hh)."""
    per = 4 if a.bias else 2
    dirs = 2 if a.bidirectional else 1
    out = []
    for layer in range(a.num_layers):
        group = []
        for d in range(dirs):
            ws = weights[(layer * dirs + d) * per:(layer * dirs + d + 1) * per]
            if not a.bias:
                h4 = ws[0].shape[0]
                ws = (*ws, np.zeros(h4, np.float32), np.zeros(h4, np.float32))
            group.append(tuple(w.astype(np.float32) for w in ws))
        out.append(group)
    return out


def _lstm_dir(x: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray, b_hh: np.ndarray) -> np.ndarray:
    """i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh); c = f*c + i*g; h = o*tanh(c)."""
    n, steps, _ = x.shape
    hid = w_hh.shape[1]
    pre = x @ w_ih.T + b_ih  # input projections of every step at once
    h = np.zeros((n, hid), np.float32)
    c = np.zeros((n, hid), np.float32)
    out = np.empty((n, steps, hid), np.float32)
    for t in range(steps):
        gates = pre[:, t] + h @ w_hh.T + b_hh
        i, f, g, o = (gates[:, k * hid:(k + 1) * hid] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        out[:, t] = h
    return out


def _gru_dir(x: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray, b_hh: np.ndarray) -> np.ndarray:
    """r, z from both projections; n = tanh(x W_in + b_in + r * (h W_hn + b_hn)); h = (1-z)*n + z*h."""
    n, steps, _ = x.shape
    hid = w_hh.shape[1]
    pre = x @ w_ih.T + b_ih
    h = np.zeros((n, hid), np.float32)
    out = np.empty((n, steps, hid), np.float32)
    for t in range(steps):
        hh = h @ w_hh.T + b_hh
        xi = pre[:, t]
        r = sigmoid(xi[:, :hid] + hh[:, :hid])
        z = sigmoid(xi[:, hid:2 * hid] + hh[:, hid:2 * hid])
        cand = np.tanh(xi[:, 2 * hid:] + r * hh[:, 2 * hid:])
        h = (np.float32(1) - z) * cand + z * h
        out[:, t] = h
    return out


Step = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _run(step: Step, a: A.RnnAttrs, x: np.ndarray, weights: tuple[np.ndarray, ...]) -> np.ndarray:
    seq = x.astype(np.float32)
    for group in _layers(a, weights):
        outs = [step(seq, *group[0])]
        if a.bidirectional:  # the reverse direction reads the sequence backwards
            outs.append(step(seq[:, ::-1], *group[1])[:, ::-1])
        seq = np.concatenate(outs, axis=2)
    return seq


def lstm(a: A.RnnAttrs, x: np.ndarray, *weights: np.ndarray) -> np.ndarray:
    return _run(_lstm_dir, a, x, weights)


def gru(a: A.RnnAttrs, x: np.ndarray, *weights: np.ndarray) -> np.ndarray:
    return _run(_gru_dir, a, x, weights)
