"""``Counts``: the additive cost of a layer or a whole network, computed from the IR.

Definitions (the ones torchvision's metadata, fvcore and the papers' "FLOPs = mult-adds" use):
- ``macs``: multiply-accumulates of conv, transposed conv, linear, matmul (attention included)
  and recurrent layers. No bias, norm, activation or pooling terms.
- ``mults`` / ``adds``: every multiplication and addition counted separately: a dot product of
  length K is K mults and K-1 adds, plus one add for a bias; BN in inference is one mult and one
  add per element; an average over k values is k-1 adds and one mult (by 1/k).
- ``other``: comparisons, exponentials, divisions, square roots (max pool, ReLU, softmax, ...).
- ``neurons``: output elements of weighted layers (conv, transposed conv, linear, LSTM/GRU).
- bytes at the tensors' own dtypes: ``in_bytes`` (activation inputs), ``out_bytes``, ``weight_bytes``
  (constants incl. BN statistics); ``intensity`` = MACs per byte of all three.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Counts:
    params: int = 0
    macs: int = 0
    mults: int = 0
    adds: int = 0
    other: int = 0
    neurons: int = 0
    in_bytes: int = 0
    out_bytes: int = 0
    weight_bytes: int = 0

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def bytes(self) -> int:
        return self.in_bytes + self.out_bytes + self.weight_bytes

    @property
    def intensity(self) -> float:
        """MACs per byte moved (inputs + outputs + weights), the roofline x-axis."""
        return self.macs / self.bytes if self.bytes else 0.0

    def as_dict(self) -> dict[str, float]:
        d: dict[str, float] = {f.name: getattr(self, f.name) for f in fields(self)}
        d["intensity"] = round(self.intensity, 4)
        return d
