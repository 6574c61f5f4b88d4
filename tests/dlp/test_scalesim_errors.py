"""Malformed SCALE-Sim configs and topologies: one line naming file (and line) and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from aics.dlp.scalesim_io import load_scalesim_cfg, load_topology
from aics.errors import ArchError, ModelError

CFG = """\
[general]
run_name = t

[architecture_presets]
ArrayHeight:    32
ArrayWidth:     32
IfmapSramSzkB:    64
FilterSramSzkB:   64
OfmapSramSzkB:    64
Dataflow : os
Bandwidth : 10

[run_presets]
InterfaceBandwidth: CALC
"""

BAD_CFGS = [  # edits of CFG as (old, new) pairs, expected message after the file name
    ([("ArrayHeight:    32\n", "")], ": [architecture_presets] ArrayHeight: missing"),
    ([("ArrayHeight:", "ArrayHieght:")],
     ": [architecture_presets] ArrayHeight: missing (found 'arrayhieght')"),
    ([("ArrayHeight:    32", "ArrayHeight:    3x")], ":5: ArrayHeight: expected a positive integer, got '3x'"),
    ([("Dataflow : os", "Dataflow : xs")], ":10: Dataflow: 'xs' is not one of os, ws, is"),
    ([("Bandwidth : 10", "Bandwidth : fast")], ":11: Bandwidth: expected a positive integer, got 'fast'"),
    ([("InterfaceBandwidth: CALC", "InterfaceBandwidth: AUTO")],
     ":14: InterfaceBandwidth: 'AUTO' is not one of CALC, USER"),
    ([("[run_presets]", "[sparsity]\nSparsitySupport : true\n\n[run_presets]")],
     ":14: SparsitySupport: sparse mappings are not modelled"),
    ([("Dataflow : os", "Dataflow os")],
     ":10: expected 'Key = value' or 'Key : value', got 'Dataflow os'"),
    ([("[general]", "[general")], ":1: unclosed section header '[general'"),
    ([("[general]\n", "")], ":1: key before any [section]"),
    ([("Bandwidth : 10", "Bandwidth : 10\narraywidth: 16")], ":12: arraywidth repeated (first on line 6)"),
    ([("[run_presets]", "[general]")], ":13: section [general] repeated"),
    ([("ArrayHeight:    32", "ArrayHeight:    0")], ":5: ArrayHeight: expected a positive integer, got '0'"),
    ([("IfmapSramSzkB:    64", "IfmapSramSzkB:    -10")],
     ":7: IfmapSramSzkB: expected a positive integer, got '-10'"),
    ([("Bandwidth : 10", "Bandwidth : 0, 10")], ":11: Bandwidth: expected a positive integer, got '0, 10'"),
    ([("FilterSramSzkB:   64", "FilterSramSzkB:   0")], ":8: FilterSramSzkB: expected a positive integer"),
    ([("IfmapSramSzkB:    64", "IfmapSramSzkB:    1"), ("OfmapSramSzkB:    64", "OfmapSramSzkB:    1")],
     ": IfmapSramSzkB + OfmapSramSzkB: 2 KiB cannot hold one 32x32 operand tile"),
]


@pytest.mark.parametrize("edits, message", BAD_CFGS, ids=[m[:40] for _, m in BAD_CFGS])
def test_bad_cfg(tmp_path: Path, edits: list[tuple[str, str]], message: str) -> None:
    text = CFG
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "bad.cfg"
    path.write_text(text)
    with pytest.raises(ArchError) as err:
        load_scalesim_cfg(path)
    assert str(err.value).startswith(f"{path}{message}"), str(err.value)
    assert "\n" not in str(err.value)


def test_optional_cfg_keys_take_scalesim_defaults(tmp_path: Path) -> None:
    path = tmp_path / "mine.cfg"
    path.write_text(CFG.replace("run_name = t\n", "").replace("Bandwidth : 10\n", ""))
    arch = load_scalesim_cfg(path)
    assert arch.name == "mine" and arch.dram.bandwidth_gbps == 10.0
    path.write_text(CFG.replace("Bandwidth : 10", "Bandwidth : 32, 16, 8"))
    assert load_scalesim_cfg(path).dram.bandwidth_gbps == 32.0  # SCALE-Sim uses the first


def test_missing_cfg(tmp_path: Path) -> None:
    with pytest.raises(ArchError, match="nope.cfg: no such file"):
        load_scalesim_cfg(tmp_path / "nope.cfg")


HEADER = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
          "Num Filter, Strides,\n")
BAD_TOPOLOGIES = [
    ("conv1, 8, 8, 3, 3, 4, 8, 1,\n", ":1: this is a layer, but SCALE-Sim always skips line 1"),
    (HEADER + "conv1, 8, 8, 3, 3, 4, 8,\n", ":2: expected 8 fields (name, IFMAP Height"),
    (HEADER + "\nconv1, 8, 8, 3, 3, x, 8, 1,\n", ":3: Channels: expected a positive integer, got 'x'"),
    (HEADER + "conv1, 8, 8, 3, 3, 4, 8, 0,\n", ":2: Strides: expected a positive integer, got '0'"),
    (HEADER + "conv1, 8, 8, 3, 3, 4, -8, 1,\n", ":2: Num Filter: expected a positive integer, got '-8'"),
    (HEADER + "conv1, 2, 8, 3, 3, 4, 8, 1,\n", ":2: filter 3x3 is larger than the IFMAP 2x8"),
    (HEADER + "conv1, 8, 8, 3, 3, 4, 8, 1, 4:2,\n", ":2: N:M sparsity must look like 2:4"),
    (HEADER + ", 8, 8, 3, 3, 4, 8, 1,\n", ":2: empty layer name"),
    (HEADER, ": no layers"),
    ("", ": no layers"),
]


@pytest.mark.parametrize("text, message", BAD_TOPOLOGIES, ids=[m[:30] for _, m in BAD_TOPOLOGIES])
def test_bad_conv_topology(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "topo.csv"
    path.write_text(text)
    with pytest.raises(ModelError) as err:
        load_topology(path)
    assert str(err.value).startswith(f"{path}{message}"), str(err.value)


def test_bad_gemm_topology(tmp_path: Path) -> None:
    path = tmp_path / "mnk.csv"
    path.write_text("Layer, M, N, K,\nfc, 10, 20,\n")
    with pytest.raises(ModelError, match=r"mnk.csv:2: expected 4 fields \(name, M, N, K\)"):
        load_topology(path, "gemm")
    with pytest.raises(ModelError, match="topology kind must be conv or gemm"):
        load_topology(path, "mnk")  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="gone.csv: no such file"):
        load_topology(tmp_path / "gone.csv")
