"""``PrunePlan``: what to keep, as data. Choosing a plan and applying it are separate steps.

A plan lists, per pruned group, every parameter axis it touches and the indices that survive, in
the original model's numbering. It is saved as JSON and replays on a fresh model of the same
architecture (``apply_plan``), which is how a pruned checkpoint is rebuilt: construct the original
model, replay the plan, load the state_dict (Torch-Pruning's pruning history plays this role).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from aics.errors import PruneError

FORMAT = "aics-prune-plan"
VERSION = 1


@dataclass(frozen=True)
class AxisKeep:
    param: str
    axis: int
    size: int  # length of the axis before pruning
    keep: tuple[int, ...]


@dataclass(frozen=True)
class GroupPlan:
    name: str
    classes: int  # classes in the group before pruning
    removed: int
    axes: tuple[AxisKeep, ...]


@dataclass(frozen=True)
class PrunePlan:
    input_shape: tuple[int, ...]
    groups: tuple[GroupPlan, ...]
    input_dtype: str = "float32"

    def keeps(self) -> dict[tuple[str, int], tuple[int, ...]]:
        """(param, axis) -> kept indices, over every group."""
        return {(a.param, a.axis): a.keep for g in self.groups for a in g.axes}

    def sizes(self) -> dict[tuple[str, int], int]:
        return {(a.param, a.axis): a.size for g in self.groups for a in g.axes}

    @property
    def removed(self) -> int:
        return sum(g.removed for g in self.groups)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "version": VERSION, "input_shape": list(self.input_shape),
            "input_dtype": self.input_dtype,
            "groups": [{"name": g.name, "classes": g.classes, "removed": g.removed,
                        "axes": [{"param": a.param, "axis": a.axis, "size": a.size, "keep": list(a.keep)}
                                 for a in g.axes]} for g in self.groups],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json())

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> "PrunePlan":
        if d.get("format") != FORMAT or d.get("version") != VERSION:
            raise PruneError(f"not a prune plan of version {VERSION} (format {d.get('format')!r}, "
                             f"version {d.get('version')!r})")
        try:
            groups = tuple(GroupPlan(str(g["name"]), int(g["classes"]), int(g["removed"]), tuple(
                AxisKeep(str(a["param"]), int(a["axis"]), int(a["size"]), tuple(int(i) for i in a["keep"]))
                for a in g["axes"])) for g in d["groups"])
            return PrunePlan(tuple(int(s) for s in d["input_shape"]), groups, str(d.get("input_dtype", "float32")))
        except (KeyError, TypeError, ValueError) as err:
            raise PruneError(f"malformed prune plan ({type(err).__name__}: {err})") from None

    @staticmethod
    def from_json(text: str) -> "PrunePlan":
        try:
            return PrunePlan.from_dict(json.loads(text))
        except json.JSONDecodeError as err:
            raise PruneError(f"prune plan is not JSON ({err})") from None

    @staticmethod
    def load(path: str | Path) -> "PrunePlan":
        try:
            return PrunePlan.from_json(Path(path).read_text())
        except OSError as err:
            raise PruneError(f"cannot read prune plan '{path}': {err.strerror}") from None

