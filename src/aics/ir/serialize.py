"""Graph <-> JSON (weights inline as base64 little-endian arrays) and a stable text dump.

The JSON carries a format version; a file of another version or a malformed one raises
``IRFormatError`` naming the problem.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from aics.errors import AicsError, IRFormatError
from aics.ir.graph import Graph, Node
from aics.ir.ops import OPS
from aics.ir.quant import QuantParams
from aics.numerics import FixedType

FORMAT = "aics-ir"
VERSION = 1


def _attrs_to_json(attrs: Any) -> dict[str, Any]:
    return {f.name: getattr(attrs, f.name) for f in dataclasses.fields(attrs)}


def _tuplify(value: Any) -> Any:
    return tuple(_tuplify(v) for v in value) if isinstance(value, list) else value


def _attrs_from_json(op: str, data: dict[str, Any]) -> Any:
    return OPS[op].attrs(**{k: _tuplify(v) for k, v in data.items()})


def _array_to_json(arr: np.ndarray) -> dict[str, Any]:
    arr = np.ascontiguousarray(arr)
    return {"dtype": arr.dtype.newbyteorder("<").str, "shape": list(arr.shape),
            "data": base64.b64encode(arr.astype(arr.dtype.newbyteorder("<")).tobytes()).decode()}


def _array_from_json(d: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(d["data"]), dtype=np.dtype(d["dtype"])).reshape(d["shape"]).copy()


def to_dict(graph: Graph) -> dict[str, Any]:
    return {
        "format": FORMAT, "version": VERSION, "name": graph.name,
        "nodes": [{"name": n.name, "op": n.op, "inputs": list(n.inputs), "attrs": _attrs_to_json(n.attrs),
                   "shape": list(n.shape), "dtype": n.dtype, "source": n.source} for n in graph.nodes],
        "outputs": list(graph.outputs),
        "params": {k: _array_to_json(v) for k, v in graph.params.items()},
        "quant": {k: _quant_to_json(q) for k, q in graph.quant.items()},
    }


def _quant_to_json(q: QuantParams) -> dict[str, Any]:
    d: dict[str, Any] = {"dtype": q.dtype, "scale": list(q.scale), "zero_point": list(q.zero_point),
                         "axis": q.axis}
    if q.fixed is not None:
        d["fixed"] = dataclasses.asdict(q.fixed)
    return d


def _quant_from_json(d: dict[str, Any]) -> QuantParams:
    fixed = FixedType(**d["fixed"]) if d.get("fixed") else None
    return QuantParams(d["dtype"], tuple(d["scale"]), tuple(d["zero_point"]), d.get("axis"), fixed)


def from_dict(d: dict[str, Any], where: str = "<graph>") -> Graph:
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise IRFormatError(f"{where}: not an aics IR file")
    if d.get("version") != VERSION:
        raise IRFormatError(f"{where}: IR format version {d.get('version')} (this aics reads {VERSION})")
    try:
        nodes = []
        for nd in d["nodes"]:
            if nd["op"] not in OPS:
                raise IRFormatError(f"{where}: node '{nd['name']}' has unknown op '{nd['op']}'")
            nodes.append(Node(nd["name"], nd["op"], tuple(nd["inputs"]), _attrs_from_json(nd["op"], nd["attrs"]),
                              tuple(nd["shape"]), nd["dtype"], nd.get("source", "")))
        params = {k: _array_from_json(v) for k, v in d.get("params", {}).items()}
        quant = {k: _quant_from_json(v) for k, v in d.get("quant", {}).items()}
        return Graph(d["name"], tuple(nodes), tuple(d["outputs"]), params, quant)
    except (KeyError, TypeError, ValueError, AicsError) as err:
        raise IRFormatError(f"{where}: malformed IR ({type(err).__name__}: {err})") from None


def save(graph: Graph, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_dict(graph)))


def load(path: str | Path) -> Graph:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise IRFormatError(f"{path}: cannot read IR file ({err})") from None
    return from_dict(data, str(path))


def _fmt_attr(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ",".join(_fmt_attr(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def dump(graph: Graph) -> str:
    """One line per node: ``%out = op(%a, %b) {k=v} : dtype[shape]  # source``. Stable across runs."""
    lines = [f"graph {graph.name} -> ({', '.join('%' + o for o in graph.outputs)})"]
    for n in graph.nodes:
        attrs = ", ".join(f"{k}={_fmt_attr(v)}" for k, v in _attrs_to_json(n.attrs).items())
        args = ", ".join("%" + i for i in n.inputs)
        line = f"  %{n.name} = {n.op}({args})" + (f" {{{attrs}}}" if attrs else "")
        line += f" : {n.dtype}[{','.join(map(str, n.shape))}]"
        lines.append(line + (f"  # {n.source}" if n.source else ""))
    return "\n".join(lines)
