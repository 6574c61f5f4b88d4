"""Typed attributes, one frozen dataclass per op (the op table in ``ops.py`` names which).

Tuples are used for every sequence so attributes hash and compare by value. Spatial pairs are
(height, width); paddings are (top, bottom, left, right) so ONNX's asymmetric pads fit.
"""

from __future__ import annotations

from dataclasses import dataclass

Pair = tuple[int, int]
Pads = tuple[int, int, int, int]  # top, bottom, left, right


@dataclass(frozen=True)
class NoAttrs:
    """For ops that have no attributes (relu, add, linear, ...)."""


@dataclass(frozen=True)
class ConstAttrs:
    trainable: bool = True  # a parameter (counted in params) or a buffer / folded constant


@dataclass(frozen=True)
class Conv2dAttrs:
    stride: Pair = (1, 1)
    padding: Pads = (0, 0, 0, 0)
    dilation: Pair = (1, 1)
    groups: int = 1


@dataclass(frozen=True)
class ConvTranspose2dAttrs:
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    output_padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    groups: int = 1


@dataclass(frozen=True)
class Pool2dAttrs:
    kernel: Pair
    stride: Pair
    padding: Pads = (0, 0, 0, 0)
    dilation: Pair = (1, 1)
    ceil_mode: bool = False
    count_include_pad: bool = True  # avg pool only


@dataclass(frozen=True)
class AdaptivePoolAttrs:
    output_size: Pair


@dataclass(frozen=True)
class NormAttrs:
    eps: float = 1e-5
    axes: int = 1  # layer_norm: number of trailing axes normalised; batch_norm: unused


@dataclass(frozen=True)
class LrnAttrs:
    size: int
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0


@dataclass(frozen=True)
class ClipAttrs:
    min: float
    max: float


@dataclass(frozen=True)
class SlopeAttrs:
    """leaky_relu's negative slope or elu's alpha."""

    alpha: float


@dataclass(frozen=True)
class GeluAttrs:
    approximate: str = "none"  # "none" (erf) or "tanh"


@dataclass(frozen=True)
class AxisAttrs:
    axis: int  # softmax, concat; normalised to a non-negative axis by the importers


@dataclass(frozen=True)
class ReduceAttrs:
    axes: tuple[int, ...]
    keepdim: bool = False


@dataclass(frozen=True)
class SliceAttrs:
    axis: int
    start: int
    end: int
    step: int = 1


@dataclass(frozen=True)
class ShapeAttrs:
    """reshape / expand target shape (fully resolved, no -1)."""

    shape: tuple[int, ...]


@dataclass(frozen=True)
class PermuteAttrs:
    perm: tuple[int, ...]


@dataclass(frozen=True)
class PadAttrs:
    pads: tuple[int, ...]  # (before_0, after_0, before_1, after_1, ...) over all axes
    mode: str = "constant"
    value: float = 0.0


@dataclass(frozen=True)
class ResizeAttrs:
    size: Pair  # output (height, width)
    mode: str = "nearest"  # or "bilinear"
    align_corners: bool = False


@dataclass(frozen=True)
class RnnAttrs:
    """lstm / gru over a whole sequence, batch-first input (N, T, I) -> output (N, T, H*dirs).

    Inputs after x: per layer and direction w_ih, w_hh, b_ih, b_hh (PyTorch's gate order)."""

    hidden_size: int
    num_layers: int = 1
    bidirectional: bool = False
    bias: bool = True
