"""SCALE-Sim's files, read and written the way SCALE-Sim 3.0.0 does (shared/anchors/scalesim.md).

* ``load_scalesim_cfg``: its INI config -> a validated ``Arch``. Only the array keys are needed;
  the rest of SCALE-Sim's many required keys (offsets, request buffers, layout) do not change
  compute cycles and are ignored. SRAMs map to our scratchpads (1-byte words, so kB = KiB):
  NRAM = IfmapSramSzkB + OfmapSramSzkB, WRAM = FilterSramSzkB; ``Bandwidth`` words/cycle becomes
  GB/s at 1 GHz (SCALE-Sim has no clock).
* ``load_topology``: its conv CSV (``Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter
  Width, Channels, Num Filter, Strides, [N:M],``) or GEMM CSV (``Layer, M, N, K, [N:M],``). Line 1
  is always the header. A GEMM row is SCALE-Sim's conv ``H=M, W=K, Fh=1, Fw=K, C=1, filters=N,
  S=1``: M output pixels, window K, N filters. Unlike SCALE-Sim (which drops the last field of each
  row), a row without the trailing comma is read as meant.
* ``compute_report`` / ``write_compute_report``: ``COMPUTE_REPORT.csv`` from our closed-form model
  (``aics.dlp.systolic``), with SCALE-Sim's conventions, each a documented quirk of its code:

  1. ``Total Cycles`` = our cycles - 1: SCALE-Sim reports the index of the last cycle (its #125).
  2. ``Stall Cycles`` = 0: CALC mode is stall-free. USER-mode stalls (which SCALE-Sim double
     counts, its #130) are not modelled; the DLP timing simulator models DRAM instead.
  3. ``Overall Util %`` = MACs * 100 / (R*C * Total Cycles), i.e. over the off-by-one count.
  4. ``Compute Util %`` divides each fold's MACs by a fold length taken from a demand-matrix shape:
     right for os (T+R+C-2), but 2R+2C+T-3 for ws and is, C-1 more than the fold really takes.
  5. A layer whose name contains ``DP`` is depthwise: SCALE-Sim splits it into ``Channels``
     one-channel layers, one report row each.
  6. 3.0.0's ``Total Cycles (incl. prefetch)`` column is left out: it adds the initial SRAM fill at
     arbitrary CALC-mode bandwidths (10 words/cycle) and is no compute measure.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Sequence

from aics.dlp.arch import Arch, Dram, Memories, MatrixUnit, VectorUnit, problems
from aics.dlp.systolic import MatrixCost, conv_cost, fold_shape
from aics.errors import AicsError, ArchError, ModelError

TopologyKind = Literal["conv", "gemm"]
REPORT_HEADER = ("LayerID, Total Cycles, Stall Cycles, Overall Util %, Mapping Efficiency %, "
                 "Compute Util %,\n")

_ARRAY = "architecture_presets"
_CFG_FIELDS = {  # our field -> the .cfg keys it comes from, for the buffer-size messages
    "memory.nram_kib": "IfmapSramSzkB + OfmapSramSzkB", "memory.wram_kib": "FilterSramSzkB",
}
_DEFAULT_BANDWIDTH = 10  # words/cycle: SCALE-Sim's scale.cfg value, used when Bandwidth is absent


@dataclass(frozen=True)
class Layer:
    """One SCALE-Sim topology row, as SCALE-Sim reads it (padding already in the IFMAP dims)."""

    name: str
    ifmap_h: int
    ifmap_w: int
    filter_h: int
    filter_w: int
    channels: int
    num_filters: int
    stride: int
    sparsity: tuple[int, int] = (1, 1)  # N:M; only used when SparsitySupport is on (refused)

    @property
    def depthwise(self) -> bool:
        return "DP" in self.name

    @property
    def ofmap_h(self) -> int:
        return -(-(self.ifmap_h - self.filter_h + self.stride) // self.stride)  # ceil, SCALE-Sim's

    @property
    def ofmap_w(self) -> int:
        return -(-(self.ifmap_w - self.filter_w + self.stride) // self.stride)

    @property
    def macs(self) -> int:
        """P * Fh*Fw * C * filters: for DP layers, C one-channel layers of ``filters`` each."""
        return self.ofmap_h * self.ofmap_w * self.filter_h * self.filter_w * self.channels \
            * self.num_filters

    @property
    def splits(self) -> int:
        """How many layers SCALE-Sim runs for this row: ``Channels`` for DP layers, else 1."""
        return self.channels if self.depthwise else 1

    def gemm(self) -> tuple[int, int, int]:
        """(M, K, N) of one of this row's SCALE-Sim layers: output pixels, window, filters."""
        channels = 1 if self.depthwise else self.channels
        return (self.ofmap_h * self.ofmap_w, self.filter_h * self.filter_w * channels,
                self.num_filters)


def layer_cost(unit: MatrixUnit, layer: Layer) -> MatrixCost:
    """Our compute cost of a whole topology row (all channels of a DP layer, in sequence)."""
    groups = layer.splits
    return conv_cost(unit, layer.ofmap_h * layer.ofmap_w, layer.filter_h * layer.filter_w,
                     layer.channels, layer.num_filters * groups, groups)


# --- config ----------------------------------------------------------------------------------


def load_scalesim_cfg(path: str | os.PathLike[str]) -> Arch:
    """A SCALE-Sim ``.cfg`` as a validated single-core systolic ``Arch`` (see the module doc)."""
    where = os.fspath(path)
    ini = _Ini(where, _read_ini(where))
    rows, cols = ini.integer(_ARRAY, "ArrayHeight"), ini.integer(_ARRAY, "ArrayWidth")
    ifmap, filt, ofmap = (ini.integer(_ARRAY, k) for k in ("IfmapSramSzkB", "FilterSramSzkB",
                                                           "OfmapSramSzkB"))
    dataflow = ini.choice(_ARRAY, "Dataflow", ("os", "ws", "is"))
    if ini.optional("run_presets", "InterfaceBandwidth") is not None:
        ini.choice("run_presets", "InterfaceBandwidth", ("CALC", "USER"))
    sparse = ini.optional("sparsity", "SparsitySupport")
    if sparse is not None and sparse[0].lower() == "true":
        raise ArchError(f"{where}:{sparse[1]}: SparsitySupport: sparse mappings are not modelled")
    # SCALE-Sim takes a comma list of bandwidths and uses the first entry.
    bandwidth = _DEFAULT_BANDWIDTH
    if ini.optional(_ARRAY, "Bandwidth") is not None:
        bandwidth = ini.integer(_ARRAY, "Bandwidth", first_of_list=True)
    name = ini.optional("general", "run_name")
    arch = Arch(
        name=name[0] if name else Path(where).stem,
        source=f"SCALE-Sim config {Path(where).name}",
        matrix=MatrixUnit("systolic", rows, cols, dataflow, {"int8": rows * cols}),
        vector=VectorUnit(lanes=cols),
        memory=Memories(nram_kib=ifmap + ofmap, wram_kib=filt),
        dram=Dram(bandwidth_gbps=float(bandwidth), latency_cycles=0),
    )
    broken = next(iter(problems(arch)), None)
    if broken is not None:
        raise ArchError(f"{where}: {_CFG_FIELDS.get(broken[0], broken[0])}: {broken[1]}")
    return arch


@dataclass(frozen=True)
class _Ini:
    """Typed look-ups into a parsed .cfg, each error naming file:line and the key."""

    where: str
    entries: dict[tuple[str, str], tuple[str, int]]

    def optional(self, section: str, key: str) -> tuple[str, int] | None:
        return self.entries.get((section, key.lower()))

    def required(self, section: str, key: str) -> tuple[str, int]:
        found = self.optional(section, key)
        if found is None:
            present = [k for s, k in self.entries if s == section]
            close = difflib.get_close_matches(key.lower(), present, n=1, cutoff=0.7)
            hint = f" (found '{close[0]}')" if close else ""
            raise ArchError(f"{self.where}: [{section}] {key}: missing{hint}")
        return found

    def integer(self, section: str, key: str, first_of_list: bool = False) -> int:
        """A positive integer (every number SCALE-Sim's array keys hold is a size or a rate)."""
        text, line = self.required(section, key)
        word = text.split(",")[0].strip() if first_of_list else text
        if not word.isdigit() or int(word) < 1:
            raise ArchError(f"{self.where}:{line}: {key}: expected a positive integer, got '{text}'")
        return int(word)

    def choice(self, section: str, key: str, choices: tuple[str, ...]) -> Any:
        text, line = self.required(section, key)
        if text not in choices:
            raise ArchError(f"{self.where}:{line}: {key}: '{text}' is not one of {', '.join(choices)}")
        return text


def is_user_bandwidth(path: str | os.PathLike[str]) -> bool:
    """Whether the config asks for USER-mode (bandwidth-limited) runs, whose stalls we omit."""
    found = _read_ini(os.fspath(path)).get(("run_presets", "interfacebandwidth"))
    return found is not None and found[0] == "USER"


def _read_ini(where: str) -> dict[tuple[str, str], tuple[str, int]]:
    """(section, lower-case key) -> (value, line), as SCALE-Sim's configparser reads the file
    (``=`` or ``:`` separators, ``#``/``;`` comment lines, keys case-insensitive, no repeats)."""
    lines = _read_lines(where, ArchError)
    entries: dict[tuple[str, str], tuple[str, int]] = {}
    sections: set[str] = set()
    section = ""
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text[0] in "#;":
            continue
        if text.startswith("["):
            if not text.endswith("]"):
                raise ArchError(f"{where}:{number}: unclosed section header '{text}'")
            section = text[1:-1].strip().lower()
            if section in sections:
                raise ArchError(f"{where}:{number}: section [{section}] repeated")
            sections.add(section)
            continue
        cut = min((i for i in (text.find("="), text.find(":")) if i >= 0), default=-1)
        if cut <= 0:
            raise ArchError(f"{where}:{number}: expected 'Key = value' or 'Key : value', got '{text}'")
        if not section:
            raise ArchError(f"{where}:{number}: key before any [section]")
        key = (section, text[:cut].strip().lower())
        if key in entries:
            raise ArchError(f"{where}:{number}: {text[:cut].strip()} repeated "
                            f"(first on line {entries[key][1]})")
        entries[key] = (text[cut + 1:].strip(), number)
    return entries


def _read_lines(where: str, error: type[ArchError] | type[ModelError]) -> list[str]:
    try:
        return Path(where).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise error(f"{where}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise error(f"{where}: cannot read: {err}") from None


# --- topology --------------------------------------------------------------------------------

_CONV_COLUMNS = ("IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels",
                 "Num Filter", "Strides")
_GEMM_COLUMNS = ("M", "N", "K")


def load_topology(path: str | os.PathLike[str], kind: TopologyKind = "conv") -> list[Layer]:
    """The layers of a SCALE-Sim conv or GEMM topology CSV; malformed rows raise with file:line."""
    where = os.fspath(path)
    if kind not in ("conv", "gemm"):
        raise ModelError(f"{where}: topology kind must be conv or gemm, got '{kind}'")
    columns = _CONV_COLUMNS if kind == "conv" else _GEMM_COLUMNS
    lines = _read_lines(where, ModelError)
    if lines and _looks_like_data(lines[0], len(columns)):
        raise ModelError(f"{where}:1: this is a layer, but SCALE-Sim always skips line 1 as the "
                         "header; add a header line")
    layers = []
    for number, raw in enumerate(lines[1:], start=2):
        if raw.strip():
            layers.append(_parse_row(raw, columns, kind, f"{where}:{number}"))
    if not layers:
        raise ModelError(f"{where}: no layers (line 1 is the header, layers follow)")
    return layers


def _parse_row(raw: str, columns: Sequence[str], kind: TopologyKind, at: str) -> Layer:
    fields = [f.strip() for f in raw.strip().split(",")]
    if fields[-1] == "":
        fields.pop()  # SCALE-Sim's trailing comma
    if len(fields) not in (len(columns) + 1, len(columns) + 2):
        raise ModelError(f"{at}: expected {len(columns) + 1} fields (name, {', '.join(columns)}) "
                         f"and an optional N:M, got {len(fields)}")
    name = fields[0]
    if not name:
        raise ModelError(f"{at}: empty layer name")
    values = []
    for column, text in zip(columns, fields[1:]):
        if not text.isdigit() or int(text) < 1:
            raise ModelError(f"{at}: {column}: expected a positive integer, got '{text}'")
        values.append(int(text))
    sparsity = _parse_sparsity(fields[len(columns) + 1], at) if len(fields) > len(columns) + 1 \
        else (1, 1)
    if kind == "gemm":
        m, n, k = values
        return Layer(name, m, k, 1, k, 1, n, 1, sparsity)
    layer = Layer(name, *values, sparsity=sparsity)
    if layer.filter_h > layer.ifmap_h or layer.filter_w > layer.ifmap_w:
        raise ModelError(f"{at}: filter {layer.filter_h}x{layer.filter_w} is larger than the "
                         f"IFMAP {layer.ifmap_h}x{layer.ifmap_w} (pad the IFMAP dims)")
    return layer


def _parse_sparsity(text: str, at: str) -> tuple[int, int]:
    n, sep, m = text.partition(":")
    if not (sep and n.strip().isdigit() and m.strip().isdigit()) or not 1 <= int(n) <= int(m):
        raise ModelError(f"{at}: N:M sparsity must look like 2:4 with 1 <= N <= M, got '{text}'")
    return int(n), int(m)


def _looks_like_data(line: str, columns: int) -> bool:
    fields = [f.strip() for f in line.split(",")]
    return len(fields) > columns and all(f.isdigit() for f in fields[1:columns + 1])


# --- report ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRow:
    """One row of SCALE-Sim's COMPUTE_REPORT.csv (percentages as SCALE-Sim prints them)."""

    layer_id: int
    total_cycles: int
    stall_cycles: int
    overall_util: float
    mapping_efficiency: float
    compute_util: float


def compute_report(arch: Arch, layers: Sequence[Layer]) -> list[ReportRow]:
    """SCALE-Sim's COMPUTE_REPORT rows for ``layers`` on ``arch``'s array (quirks in module doc)."""
    unit = arch.matrix
    if unit.kind != "systolic":
        raise ArchError(f"{arch.name}: matrix.kind: SCALE-Sim reports need a systolic array")
    pes = unit.rows * unit.cols
    rows: list[ReportRow] = []
    for layer in layers:
        m, k, n = layer.gemm()
        shape = fold_shape(unit, m, k, n)
        total = shape.folds * shape.per_fold - 1
        quirk_fold = shape.per_fold + (unit.cols - 1 if unit.dataflow != "os" else 0)
        used = shape.on_rows * shape.on_cols  # PE-folds used, summed over all folds
        row = dict(
            total_cycles=total,
            stall_cycles=0,
            overall_util=(m * k * n * 100) / (max(total, 1) * pes),  # SCALE-Sim divides by 0 at 0
            mapping_efficiency=used / (shape.folds * pes) * 100,
            compute_util=used * shape.t / (shape.folds * pes * quirk_fold) * 100,
        )
        rows += [ReportRow(layer_id=len(rows) + i, **row) for i in range(layer.splits)]
    return rows


def format_compute_report(rows: Sequence[ReportRow]) -> str:
    """The CSV text, laid out as SCALE-Sim writes it (", " separators, trailing comma)."""
    lines = [REPORT_HEADER]
    for r in rows:
        items = (r.layer_id, r.total_cycles, r.stall_cycles, r.overall_util, r.mapping_efficiency,
                 r.compute_util)
        lines.append(", ".join(str(x) for x in items) + ",\n")
    return "".join(lines)


def write_compute_report(rows: Sequence[ReportRow], outdir: str | os.PathLike[str]) -> Path:
    """Write ``OUTDIR/COMPUTE_REPORT.csv`` atomically (no half-written file on failure)."""
    folder = Path(outdir)
    target = folder / "COMPUTE_REPORT.csv"
    tmp: str | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".COMPUTE_REPORT.", suffix=".tmp")
        with os.fdopen(fd, "w") as out:
            out.write(format_compute_report(rows))
        os.replace(tmp, target)
    except OSError as err:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise AicsError(f"{target}: cannot write: {err.strerror or err}") from None
    return target
