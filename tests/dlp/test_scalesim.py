"""SCALE-Sim's inputs and COMPUTE_REPORT, checked against SCALE-Sim 3.0.0's own numbers."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest

from aics.dlp.arch import Arch
from aics.dlp.arch_io import load_arch
from aics.dlp.scalesim_io import (Layer, compute_report, format_compute_report, layer_cost,
                                  load_scalesim_cfg, load_topology, write_compute_report)

DATA = Path(__file__).parent / "data"


def _cfg(name: str) -> Arch:
    return load_scalesim_cfg(DATA / name)


def test_cfg_maps_array_and_srams() -> None:
    arch = _cfg("sa128_ws.cfg")
    m = arch.matrix
    assert (arch.name, m.rows, m.cols, m.dataflow) == ("sa128_ws", 128, 128, "ws")
    assert (arch.memory.nram_kib, arch.memory.wram_kib) == (1024 + 512, 1024)
    assert arch.matrix.macs_per_cycle == {"int8": 128 * 128} and arch.dram.bandwidth_gbps == 10.0


def test_scalesim_preset_is_scalesims_default_config() -> None:
    default, preset = _cfg("scale.cfg"), load_arch("scalesim-32x32")
    assert default.name == "scale_example_run_32x32_ws"  # SCALE-Sim's own (mis)label of an os run
    for part in ("matrix", "vector", "memory", "dram", "frequency_ghz", "cores"):
        assert getattr(default, part) == getattr(preset, part), part


def test_load_arch_reads_cfg_files_too() -> None:
    assert load_arch(DATA / "sa32_is.cfg") == _cfg("sa32_is.cfg")


def test_conv_topology_and_scalesim_output_size() -> None:
    """E = ceil((H - F + S) / S): conv1 229 -> ceil(224/2) = 112; res3a 3x3/s2 57 -> 28;
    res3a proj 1x1/s2 55 -> 28. Total 4,089,184,256 MACs, as torchvision's ResNet-50."""
    layers = load_topology(DATA / "resnet50_scalesim.csv")
    by_name = {layer.name: layer for layer in layers}
    assert len(layers) == 54
    assert by_name["conv1"].ofmap_h == 112
    assert by_name["res3a_3x3b"].ofmap_h == by_name["res3a_proj"].ofmap_w == 28
    assert sum(layer.macs for layer in layers) == 4_089_184_256


def test_gemm_topology_becomes_scalesims_conv() -> None:
    """Row ``fc_small, 100, 40, 70``: M=100, N=40, K=70 -> H=M, W=K, Fh=1, Fw=K, C=1, S=1."""
    fc = load_topology(DATA / "gemm_mnk.csv", "gemm")[0]
    assert fc == Layer("fc_small", 100, 70, 1, 70, 1, 40, 1)
    assert fc.gemm() == (100, 70, 40)


def test_depthwise_rows_split_per_channel() -> None:
    dw, pw = load_topology(DATA / "dw_mixed.csv")
    assert dw.depthwise and dw.splits == 4 and dw.gemm() == (64, 9, 1) and dw.macs == 64 * 9 * 4
    assert not pw.depthwise and pw.splits == 1


@pytest.mark.parametrize("dataflow, per_layer", [
    ("os", [711, 1247, 421]), ("ws", [349, 699, 1319]), ("is", [879, 1071, 1415])])
def test_test3_matches_scalesim(dataflow: str, per_layer: list[int]) -> None:
    """The anchor's test3: os 711 + 1247 + 421 = 2,379; ws total 2,367; is total 3,365."""
    arch = _cfg(f"sa32_{dataflow}.cfg")
    rows = compute_report(arch, load_topology(DATA / "test3_scalesim.csv"))
    assert [r.total_cycles for r in rows] == per_layer
    assert sum(per_layer) == {"os": 2379, "ws": 2367, "is": 3365}[dataflow]


@pytest.mark.parametrize("config, total", [
    ("sa32_os.cfg", 5_198_850), ("sa128_ws.cfg", 916_490), ("sa32_is.cfg", 6_620_586)])
def test_resnet50_totals_match_scalesim(config: str, total: int) -> None:
    """SCALE-Sim 3.0.0's full ResNet-50 runs (anchor section 4): sum of Total Cycles."""
    rows = compute_report(_cfg(config), load_topology(DATA / "resnet50_scalesim.csv"))
    assert sum(r.total_cycles for r in rows) == total


def test_resnet50_layers_the_anchor_names() -> None:
    """os 32x32: conv1 163,855 and each res5 3x3 149,439; ws 128x128: res5 3x3 62,063 at 11.4 %
    overall util, fc1000 0.25 %; fc1000 on os 32x32 67,519."""
    layers = load_topology(DATA / "resnet50_scalesim.csv")
    os_rows = compute_report(_cfg("sa32_os.cfg"), layers)
    ws_rows = compute_report(_cfg("sa128_ws.cfg"), layers)
    index = {layer.name: i for i, layer in enumerate(layers)}
    assert os_rows[index["conv1"]].total_cycles == 163_855
    assert {os_rows[index[f"res5{b}_3x3b"]].total_cycles for b in "bc"} == {149_439}
    assert os_rows[index["fc1000"]].total_cycles == 67_519
    assert ws_rows[index["res5b_3x3b"]].total_cycles == 62_063
    assert round(ws_rows[index["res5b_3x3b"]].overall_util, 1) == 11.4
    assert round(ws_rows[index["fc1000"]].overall_util, 2) == 0.25


REPORTS = [(topo, kind, df) for topo, kind in (("test3", "conv"), ("gemm_mnk", "gemm"),
                                               ("dw_mixed", "conv")) for df in ("os", "ws", "is")]


@pytest.mark.parametrize("topo, kind, dataflow", REPORTS)
def test_report_equals_scalesims_own_compute_report(topo: str, kind: str, dataflow: str) -> None:
    """Every column but 3.0.0's prefetch column, row by row, DP layers split per channel; the
    percentages agree to float rounding (SCALE-Sim sums per fold, we use the closed form)."""
    csv_name = "test3_scalesim.csv" if topo == "test3" else f"{topo}.csv"
    ours = compute_report(_cfg(f"sa32_{dataflow}.cfg"), load_topology(DATA / csv_name, kind))
    with open(DATA / "scalesim_reports" / f"{topo}_sa32_{dataflow}.csv") as f:
        theirs = list(csv.reader(f, skipinitialspace=True))[1:]
    assert len(ours) == len(theirs)
    for row, ref in zip(ours, theirs):
        layer_id, _prefetch, total, stalls = map(int, ref[:4])
        assert (row.layer_id, row.total_cycles, row.stall_cycles) == (layer_id, total, stalls)
        assert (row.overall_util, row.mapping_efficiency, row.compute_util) == pytest.approx(
            (float(ref[4]), float(ref[5]), float(ref[6])), rel=1e-12)


def test_report_layout_is_scalesims(tmp_path: Path) -> None:
    rows = compute_report(_cfg("sa32_os.cfg"), load_topology(DATA / "test3_scalesim.csv"))
    path = write_compute_report(rows, tmp_path / "new" / "dir")
    lines = path.read_text().splitlines()
    assert lines[0] == ("LayerID, Total Cycles, Stall Cycles, Overall Util %, "
                        "Mapping Efficiency %, Compute Util %,")
    assert lines[1].startswith("0, 711, 0, 15.18987341772151")
    assert lines[1].endswith(", 50.0, 15.168539325842698,")
    assert [p.name for p in path.parent.iterdir()] == ["COMPUTE_REPORT.csv"]
    assert format_compute_report(rows) == path.read_text()


def test_layer_cost_of_a_depthwise_row_is_its_channels_in_sequence() -> None:
    """dw_mixed DP row on 32x32 os: 4 channels of GEMM (64, 9, 1): 2 folds of 9 + 62 = 71,
    142 cycles each (SCALE-Sim: 141 per channel row) -> 568."""
    dw = load_topology(DATA / "dw_mixed.csv")[0]
    assert layer_cost(_cfg("sa32_os.cfg").matrix, dw).cycles == 568


def test_rows_without_trailing_comma_and_with_a_sparsity_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("Layer name, H, W, Fh, Fw, C, N, S,\nplain, 8, 8, 3, 3, 4, 8, 1\n"
                    "nm, 8, 8, 3, 3, 4, 8, 1, 2:4,\n\n")
    plain, nm = load_topology(path)
    assert plain == Layer("plain", 8, 8, 3, 3, 4, 8, 1) and nm.sparsity == (2, 4)
    assert replace(nm, name="plain", sparsity=(1, 1)) == plain
