"""How a tensor of the graph is represented in integers: the quantization annotations.

``Graph.quant`` maps a node name (an activation or a const) to its ``QuantParams``. A float graph
has none; a quantized graph annotates every tensor the integer reference and the compiler read.

- ``int8`` / ``int16`` / ``int32``: ``real = scale * (q - zero_point)``; per tensor (one scale) or per
  channel along ``axis`` (weights: symmetric, zero point 0). Biases are int32 with
  ``scale = s_in * s_w`` per output channel (TFLite int8 spec).
- ``fixed``: a ``FixedType`` Qm.n code, ``real = q * 2**-frac`` (scale and zero point implied).
- ``float32``: a tensor that stays float (a layer run on the host CPU in mixed precision).
"""

from __future__ import annotations

from dataclasses import dataclass

from aics.numerics import FixedType


@dataclass(frozen=True)
class QuantParams:
    dtype: str  # "int8", "int16", "int32", "fixed" or "float32"
    scale: tuple[float, ...] = (1.0,)
    zero_point: tuple[int, ...] = (0,)
    axis: int | None = None  # channel axis of per-channel params
    fixed: FixedType | None = None

    def __post_init__(self) -> None:
        if self.dtype == "fixed" and self.fixed is None:
            raise ValueError("QuantParams(dtype='fixed') needs a FixedType")
        if len(self.scale) != len(self.zero_point):
            raise ValueError("scale and zero_point must have the same length")
        if len(self.scale) > 1 and self.axis is None:
            raise ValueError("per-channel QuantParams need an axis")

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1
