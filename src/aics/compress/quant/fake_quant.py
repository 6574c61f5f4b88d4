"""Fake quantization in torch for QAT: round to the integer grid in the forward pass, pass the
gradient straight through (zero outside the representable range) in the backward pass.

The grids are the ones ``annotate`` uses for the integer graph: per-channel symmetric weights with
scale ``max|w_c| / w_max``; per-tensor asymmetric activations over a range widened to include 0;
fixed point ``FixedType`` codes. So a QAT model's forward pass is the integer model's arithmetic
up to accumulator rounding, and exporting it changes nothing the training saw.
"""

from __future__ import annotations

import torch
from torch import nn

from aics.compress.quant.scheme import Scheme


def _ste(x: torch.Tensor, y: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
    """Value ``y``; gradient 1 where ``inside`` (the clipping range), 0 elsewhere."""
    passed = x + (y - x).detach()
    return torch.where(inside, passed, y.detach())


def fake_quant_affine(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, qmin: int,
                      qmax: int) -> torch.Tensor:
    q = torch.round(x / scale) + zero_point
    return _ste(x, (torch.clamp(q, qmin, qmax) - zero_point) * scale, (q >= qmin) & (q <= qmax))


def fake_quant_fixed(x: torch.Tensor, scheme: Scheme) -> torch.Tensor:
    """``FixedType.quantize`` then ``to_real`` in torch: scale by 2**frac, truncate or round, then
    wrap or saturate."""
    f = scheme.fixed
    assert f is not None
    v = x * (2.0 ** f.frac)
    code = torch.floor(v + 0.5) if f.rounding == "rnd" else torch.floor(v)
    inside = (code >= f.min_code) & (code <= f.max_code)
    if f.overflow == "sat":
        code = torch.clamp(code, f.min_code, f.max_code)
    else:
        code = torch.remainder(code - f.min_code, float(1 << f.width)) + f.min_code
    return _ste(x, code * (2.0 ** -f.frac), inside)


class WeightFakeQuant(nn.Module):
    """A parametrization of a weight: per-output-channel symmetric fake quant (or fixed point)."""

    def __init__(self, scheme: Scheme, axis: int = 0) -> None:
        super().__init__()
        self.scheme, self.axis = scheme, axis

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        if self.scheme.kind == "fixed":
            return fake_quant_fixed(w, self.scheme)
        dims = [d for d in range(w.dim()) if d != self.axis]
        w_max = self.scheme.weight_max
        with torch.no_grad():  # codes in float64, rounded half away from zero: annotate's exact grid
            w64 = w.double()
            amax = w64.abs().amax(dim=dims, keepdim=True)
            scale = (torch.where(amax > 0, amax, torch.ones_like(amax)) / w_max).float().double()
            codes = torch.clamp(torch.sign(w64) * torch.floor(w64.abs() / scale + 0.5), -w_max, w_max)
            snapped = (codes * scale).to(w.dtype)
        return _ste(w, snapped, (w64.abs() / scale) <= w_max + 0.5)


class ActFakeQuant(nn.Module):
    """Fake quant of one activation tensor with a range tracked by an exponential moving average
    of batch min/max while training (frozen in eval). ``ir_name`` is the IR tensor it stands for."""

    def __init__(self, ir_name: str, scheme: Scheme, lo: float, hi: float, momentum: float = 0.05) -> None:
        super().__init__()
        self.ir_name, self.scheme, self.momentum = ir_name, scheme, momentum
        self.register_buffer("lo", torch.tensor(float(lo), dtype=torch.float64))
        self.register_buffer("hi", torch.tensor(float(hi), dtype=torch.float64))

    @property
    def range(self) -> tuple[float, float]:
        return float(self.lo), float(self.hi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scheme.kind == "fixed":
            return fake_quant_fixed(x, self.scheme)
        if self.training:
            with torch.no_grad():
                m = self.momentum
                self.lo.mul_(1 - m).add_(m * float(x.min()))
                self.hi.mul_(1 - m).add_(m * float(x.max()))
        qmin, qmax = self.scheme.act_range
        scale, zp = self.scheme.act_params(float(self.lo), float(self.hi))
        return fake_quant_affine(x, torch.tensor(scale), torch.tensor(float(zp)), qmin, qmax)
