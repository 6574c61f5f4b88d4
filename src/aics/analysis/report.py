"""The analysis as JSON, CSV, Markdown or a rich table (the CLI picks; nothing here prints)."""

from __future__ import annotations

import csv
import io
from typing import Any

from rich.table import Table

from aics.analysis.analyze import Analysis, LayerCounts
from aics.analysis.counts import Counts

COLUMNS = ("params", "macs", "mults", "adds", "other", "neurons", "in_bytes", "out_bytes", "weight_bytes",
           "intensity")


def _row(lc: LayerCounts) -> dict[str, Any]:
    return {"name": lc.name, "op": lc.op, "output_shape": list(lc.output_shape), **lc.counts.as_dict()}


def to_dict(a: Analysis, *, skip_free: bool = False) -> dict[str, Any]:
    """``skip_free`` drops layers that neither compute nor hold weights (reshape, slice, ...)."""
    layers = [lc for lc in a.layers if not skip_free or _costs(lc.counts)]
    shape = list(a.input_shapes[0]) if len(a.input_shapes) == 1 else [list(s) for s in a.input_shapes]
    return {"model": a.model, "input_shape": shape, "total": a.total.as_dict(),
            "layers": [_row(lc) for lc in layers]}


def _costs(c: Counts) -> bool:
    return bool(c.params or c.macs or c.mults or c.adds or c.other)


def to_csv(a: Analysis) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["name", "op", "output_shape", *COLUMNS])
    rows = [_row(lc) for lc in a.layers] + [{"name": "TOTAL", "op": "", "output_shape": [], **a.total.as_dict()}]
    for r in rows:
        writer.writerow([r["name"], r["op"], "x".join(map(str, r["output_shape"])), *(r[c] for c in COLUMNS)])
    return buf.getvalue()


def _human(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:g}"


def to_markdown(a: Analysis) -> str:
    head = ["layer", "op", "output", "params", "MACs", "mults", "adds", "neurons", "intensity"]
    lines = [f"# {a.model}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for lc in a.layers:
        if _costs(lc.counts):
            c = lc.counts
            lines.append(f"| {lc.name} | {lc.op} | {'x'.join(map(str, lc.output_shape))} | {c.params:,} | "
                         f"{c.macs:,} | {c.mults:,} | {c.adds:,} | {c.neurons:,} | {c.intensity:.2f} |")
    t = a.total
    lines.append(f"| **total** | | | {t.params:,} | {t.macs:,} | {t.mults:,} | {t.adds:,} | {t.neurons:,} | "
                 f"{t.intensity:.2f} |")
    return "\n".join(lines) + "\n"


def to_table(a: Analysis) -> Table:
    table = Table(title=f"{a.model}  input {' '.join('x'.join(map(str, s)) for s in a.input_shapes)}")
    for col, justify in (("layer", "left"), ("op", "left"), ("output", "left"), ("params", "right"),
                         ("MACs", "right"), ("mults", "right"), ("adds", "right"), ("neurons", "right"),
                         ("MAC/B", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for lc in a.layers:
        c = lc.counts
        if _costs(c):
            table.add_row(lc.name, lc.op, "x".join(map(str, lc.output_shape)), f"{c.params:,}", _human(c.macs),
                          _human(c.mults), _human(c.adds), f"{c.neurons:,}", f"{c.intensity:.1f}")
    t = a.total
    table.add_section()
    table.add_row("total", "", "", f"{t.params:,}", f"{t.macs:,}", _human(t.mults), _human(t.adds),
                  f"{t.neurons:,}", f"{t.intensity:.1f}", style="bold")
    return table
