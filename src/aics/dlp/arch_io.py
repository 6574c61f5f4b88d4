"""Arch files: TOML in, validated ``Arch`` out, and back to canonical TOML.

An arch file mirrors the dataclass tree of ``aics.dlp.arch``: top-level keys (``name``,
``frequency_ghz``, ``cores``, ``source``) and one table per part (``[matrix]``, ``[vector]``,
``[memory]``, ``[dram]``, ``[energy]``, ``[host]``); per-dtype and per-op rates are inline tables.
``REQUIRED`` lists the fields a file must give; the rest take the dataclass defaults. Every
problem is one ``ArchError`` line naming the file and the dotted field.

``with_overrides`` is the single way to derive an arch (sweeps use it): it edits the same dict
form the loader reads, so overrides get exactly the loader's type checks and validation.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import tomllib
from dataclasses import asdict, fields, is_dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Mapping, get_args, get_origin, get_type_hints

from aics.dlp.arch import Arch, validate
from aics.errors import ArchError

REQUIRED = (
    "name", "frequency_ghz", "cores",
    "matrix.kind", "matrix.rows", "matrix.cols", "matrix.macs_per_cycle",
    "memory.nram_kib", "memory.wram_kib",
    "dram.bandwidth_gbps", "dram.latency_cycles",
)  # plus matrix.dataflow when matrix.kind = "systolic"

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def preset_names() -> list[str]:
    """Names of the presets shipped with the package (``src/aics/dlp/presets/*.toml``)."""
    folder = resources.files("aics.dlp") / "presets"
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_arch(spec: str | os.PathLike[str]) -> Arch:
    """A preset by name, a TOML arch file, or a SCALE-Sim ``.cfg`` file, validated."""
    text = os.fspath(spec)
    names = preset_names()
    if text in names:
        preset = resources.files("aics.dlp") / "presets" / f"{text}.toml"
        return loads_arch(preset.read_text(encoding="utf-8"), where=f"{text}.toml")
    path = Path(text)
    if path.suffix == ".cfg":
        from aics.dlp.scalesim_io import load_scalesim_cfg

        return load_scalesim_cfg(path)
    if not path.is_file():
        close = difflib.get_close_matches(text, names, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"presets: {', '.join(names)}"
        raise ArchError(f"{text}: no such preset or arch file ({hint})")
    try:
        return loads_arch(path.read_text(encoding="utf-8"), where=text)
    except (OSError, UnicodeDecodeError) as err:
        raise ArchError(f"{text}: cannot read: {err}") from None


def loads_arch(text: str, where: str = "<string>") -> Arch:
    """Parse and validate TOML text; ``where`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ArchError(f"{where}: invalid TOML: {err}") from None
    return arch_from_dict(data, where)


def arch_from_dict(data: Mapping[str, Any], where: str = "<dict>") -> Arch:
    """Build and validate an ``Arch`` from the dict form of an arch file."""
    required = set(REQUIRED)
    matrix = data.get("matrix")
    if isinstance(matrix, Mapping) and matrix.get("kind", "systolic") == "systolic":
        required.add("matrix.dataflow")
    arch = _build(Arch, data, "", where, required)
    return validate(arch, where)


def arch_to_toml(arch: Arch) -> str:
    """The resolved arch as canonical TOML: fixed field order, sorted inline tables, no comments.

    ``loads_arch(arch_to_toml(a)) == a`` for every valid arch.
    """
    data = asdict(arch)
    tables = [name for name, tp in get_type_hints(Arch).items() if is_dataclass(tp)]
    lines = [f"{key} = {_toml_value(value)}" for key, value in data.items() if key not in tables]
    for table in tables:
        lines += ["", f"[{table}]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in data[table].items()]
    return "\n".join(lines) + "\n"


def fingerprint(arch: Arch) -> str:
    """sha256 (hex) of the canonical TOML of everything but ``name`` and ``source``.

    Programs store it to refuse running on another machine; a renamed copy of the same machine is
    the same machine, so the two descriptive fields are left out.
    """
    canonical = arch_to_toml(replace(arch, name="", source=""))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def with_overrides(arch: Arch, overrides: Mapping[str, Any]) -> Arch:
    """A new validated arch with dotted fields replaced, e.g. ``{"matrix.rows": 64}``.

    A dict field takes a whole table (``"matrix.macs_per_cycle": {"int8": 512}``) or one entry
    (``"vector.ops_per_cycle.DIV_32": 16``). A systolic array's ``macs_per_cycle`` is derived
    (rows*cols per supported dtype), so overriding rows or cols re-derives it unless the
    overrides set it too.
    """
    data = asdict(arch)
    for dotted, value in overrides.items():
        _set_path(data, dotted, value)
    if not any(k == "matrix" or k.startswith("matrix.macs_per_cycle") for k in overrides):
        _rederive_systolic_rates(data["matrix"])
    return arch_from_dict(data, where="overrides")


def parse_override(text: str) -> tuple[str, Any]:
    """``"matrix.rows=64"`` -> ``("matrix.rows", 64)``; the value is read as a TOML value."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ArchError(f"override '{text}': expected FIELD=VALUE, e.g. matrix.rows=64")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word such as ws; type checks happen on build
    return key.strip(), value


# --- building the dataclass tree from dicts --------------------------------------------------


def _build(cls: type, table: Mapping[str, Any], prefix: str, where: str, required: set[str]) -> Any:
    hints = get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    for key in table:
        if key not in names:
            siblings = [prefix + n for n in names]
            raise ArchError(f"{where}: unknown field {prefix}{key}{_suggest(prefix + key, siblings)}")
    kwargs = {}
    for name in names:
        dotted = prefix + name
        if name not in table:
            missing = [r for r in sorted(required) if r == dotted or r.startswith(dotted + ".")]
            if missing and is_dataclass(hints[name]):
                raise ArchError(f"{where}: missing required table [{dotted}]")
            if missing:
                raise ArchError(f"{where}: missing required field {dotted}")
            continue
        kwargs[name] = _convert(hints[name], table[name], dotted, where, required)
    return cls(**kwargs)


def _convert(tp: Any, value: Any, dotted: str, where: str, required: set[str]) -> Any:
    def wrong(expected: str) -> ArchError:
        got = f"{type(value).__name__} {value!r}"
        return ArchError(f"{where}: {dotted}: expected {expected}, got {got}")

    if is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise wrong(f"a table [{dotted}]")
        return _build(tp, value, dotted + ".", where, required)
    origin = get_origin(tp)
    if origin is Literal:
        choices = get_args(tp)
        if not isinstance(value, str):
            raise wrong(f"one of {', '.join(choices)}")
        if value not in choices:
            close = difflib.get_close_matches(value, choices, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ArchError(f"{where}: {dotted}: '{value}' is not one of {', '.join(choices)}{hint}")
        return value
    if origin is dict:
        if not isinstance(value, Mapping):
            raise wrong("a table of name = value")
        item_type = get_args(tp)[1]
        return {str(k): _convert(item_type, v, f"{dotted}.{k}", where, required)
                for k, v in value.items()}
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise wrong("a string")
        return value
    raise TypeError(f"arch field {dotted} has an unsupported type {tp}")  # a bug in arch.py


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node: Any = data
    tp: Any = Arch
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        prefix = ".".join(parts[:i] + [""])
        if is_dataclass(tp) and part in get_type_hints(tp):
            tp = get_type_hints(tp)[part]
        elif get_origin(tp) is dict and last:
            tp = get_args(tp)[1]
        else:
            siblings = [prefix + n for n in get_type_hints(tp)] if is_dataclass(tp) else []
            raise ArchError(f"overrides: unknown field {dotted}{_suggest(dotted, siblings)}")
        if not isinstance(node, dict):
            raise ArchError(f"overrides: {dotted}: {'.'.join(parts[:i])} was overridden by a non-table")
        if last:
            node[part] = value
        else:
            node = node[part]


def _rederive_systolic_rates(matrix: dict[str, Any]) -> None:
    """rows*cols for each dtype a systolic array lists; ill-typed fields are left for the build
    to report."""
    rows, cols = matrix.get("rows"), matrix.get("cols")
    if matrix.get("kind") == "systolic" and all(type(v) is int for v in (rows, cols)):
        matrix["macs_per_cycle"] = {d: rows * cols for d in matrix.get("macs_per_cycle", {})}


def _all_paths(tp: Any = Arch, prefix: str = "") -> list[str]:
    paths = []
    for name, sub in get_type_hints(tp).items():
        paths.append(prefix + name)
        if is_dataclass(sub):
            paths += _all_paths(sub, f"{prefix}{name}.")
    return paths


def _suggest(dotted: str, siblings: list[str]) -> str:
    """Close names among the same table's fields, else fields elsewhere with a close leaf name
    (so a top-level ``dataflow`` points at ``matrix.dataflow``)."""
    close = difflib.get_close_matches(dotted, siblings, n=3, cutoff=0.6)
    if not close:
        leaf = dotted.rsplit(".", 1)[-1]
        close = [p for p in _all_paths()
                 if difflib.get_close_matches(leaf, [p.rsplit(".", 1)[-1]], n=1, cutoff=0.8)][:3]
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, dict):
        items = [f"{_toml_key(k)} = {_toml_value(value[k])}" for k in sorted(value)]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'

