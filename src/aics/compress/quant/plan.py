"""A quantization plan is data: which scheme each layer gets and how to calibrate. Saved as JSON
or TOML, a plan replays to the same quantized graph on the same model and data.

TOML form (JSON has the same keys)::

    default = "int8"
    calib = "percentile"
    percentile = 99.99
    calib_size = 512
    seed = 0

    [layers]
    "classifier.4" = "float32"
    "features.0" = "fixed:Q2.6:sat"
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from aics.compress.quant.observers import OBSERVERS
from aics.compress.quant.scheme import Scheme, parse_scheme
from aics.errors import QuantizationError

_KEYS = ("default", "calib", "percentile", "calib_size", "seed", "layers")


@dataclass(frozen=True)
class QuantPlan:
    default: str = "int8"
    layers: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (node name, scheme), sorted
    calib: str = "minmax"
    percentile: float = 99.99
    calib_size: int = 512
    seed: int = 0

    def __post_init__(self) -> None:
        parse_scheme(self.default)
        for name, text in self.layers:
            try:
                parse_scheme(text)
            except QuantizationError as err:
                raise QuantizationError(f"layer '{name}': {err}") from None
        if self.calib not in OBSERVERS:
            raise QuantizationError(f"unknown calibration method '{self.calib}' "
                                    f"(choose from {', '.join(OBSERVERS)})")
        if not 50.0 < self.percentile <= 100.0:
            raise QuantizationError(f"percentile must be in (50, 100], got {self.percentile}")
        if self.calib_size < 1:
            raise QuantizationError(f"calib_size must be positive, got {self.calib_size}")
        object.__setattr__(self, "layers", tuple(sorted((str(k), str(v)) for k, v in self.layers)))

    def scheme_for(self, node: str) -> Scheme:
        """The scheme of ``node``: its override, else the default."""
        return parse_scheme(dict(self.layers).get(node, self.default))

    def with_layers(self, overrides: Mapping[str, str]) -> "QuantPlan":
        return replace(self, layers=tuple({**dict(self.layers), **overrides}.items()))

    def to_dict(self) -> dict[str, Any]:
        return {"default": self.default, "calib": self.calib, "percentile": self.percentile,
                "calib_size": self.calib_size, "seed": self.seed, "layers": dict(self.layers)}


def plan_from_dict(d: Mapping[str, Any], where: str = "<plan>") -> QuantPlan:
    unknown = sorted(set(d) - set(_KEYS))
    if unknown:
        raise QuantizationError(f"{where}: unknown plan keys {unknown} (allowed: {', '.join(_KEYS)})")
    layers = d.get("layers", {})
    if not isinstance(layers, Mapping):
        raise QuantizationError(f"{where}: 'layers' must map layer names to schemes")
    try:
        return QuantPlan(str(d.get("default", "int8")), tuple(layers.items()), str(d.get("calib", "minmax")),
                         float(d.get("percentile", 99.99)), int(d.get("calib_size", 512)), int(d.get("seed", 0)))
    except (TypeError, ValueError) as err:
        raise QuantizationError(f"{where}: bad plan value ({err})") from None
    except QuantizationError as err:
        raise QuantizationError(f"{where}: {err}") from None


def save_plan(plan: QuantPlan, path: str | Path) -> None:
    """JSON for ``.json`` files, TOML otherwise."""
    path = Path(path)
    if path.suffix == ".json":
        path.write_text(json.dumps(plan.to_dict(), indent=2) + "\n")
        return
    d = plan.to_dict()
    lines = [f"{k} = {json.dumps(d[k])}" for k in _KEYS if k != "layers"]
    lines += ["", "[layers]"] + [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in plan.layers]
    path.write_text("\n".join(lines) + "\n")


def load_plan(path: str | Path) -> QuantPlan:
    path = Path(path)
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        raise QuantizationError(f"cannot read quantization plan '{path}': {err}") from None
    if not isinstance(data, dict):
        raise QuantizationError(f"{path}: a plan must be an object / table")
    return plan_from_dict(data, str(path))
