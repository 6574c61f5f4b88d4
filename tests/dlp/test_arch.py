"""Arch presets, TOML round trips, fingerprints and overrides."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aics.dlp.arch import Arch, MatrixUnit, min_buffer_bytes
from aics.dlp.arch_io import (arch_to_toml, fingerprint, load_arch, loads_arch, parse_override,
                              preset_names, with_overrides)
from aics.errors import ArchError

PRESETS = ["edge-int8", "edge-int8-4core", "eyeriss", "nvdla-large", "nvdla-small",
           "scalesim-32x32", "textbook-7.11", "textbook-7.7", "tpu-v1"]


def test_preset_names_lists_every_shipped_preset() -> None:
    assert preset_names() == PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_loads_round_trips_and_cites_a_source(name: str) -> None:
    arch = load_arch(name)
    assert arch.name == name
    assert arch.source and arch.energy.pj_per_mac and arch.energy.pj_per_byte["dram"] > 0
    assert loads_arch(arch_to_toml(arch)) == arch


def test_textbook_presets_carry_the_exercise_numbers() -> None:
    one, four = load_arch("textbook-7.7"), load_arch("textbook-7.11")
    assert one.matrix.kind == "ideal" and one.matrix.macs_per_cycle == {"fp32": 256, "fp16": 512}
    assert (one.memory.nram_kib, one.memory.wram_kib, one.memory.sram_kib) == (128, 256, 0)
    assert (one.frequency_ghz, one.dram.bandwidth_gbps, one.dram.latency_cycles) == (1.0, 64.0, 0)
    assert one.vector.ops_per_cycle["DIV_32"] == 256 and one.vector.ops_per_cycle["ADD_16"] == 512
    assert four.cores == 4 and four.matrix == one.matrix and four.vector == one.vector
    assert (four.memory.sram_kib, four.memory.sram_bandwidth_gbps) == (2048, 1000.0)
    assert (four.dram.bandwidth_gbps, four.dram.latency_cycles) == (128.0, 0)


def test_edge_and_published_designs() -> None:
    edge = load_arch("edge-int8")
    assert (edge.matrix.rows, edge.matrix.cols, edge.matrix.dataflow) == (32, 32, "os")
    assert (edge.memory.nram_kib, edge.memory.wram_kib, edge.vector.lanes) == (512, 512, 64)
    assert (edge.dram.bandwidth_gbps, edge.dram.latency_cycles) == (25.6, 100)
    quad = load_arch("edge-int8-4core")
    assert quad.cores == 4 and quad.matrix == edge.matrix and quad.dram.bandwidth_gbps == 51.2
    assert quad.memory.sram_kib == 2048
    # TPU v1: 65,536 MACs x 0.7 GHz = 45,875 GMAC/s = the paper's 92 TOPS at 2 ops per MAC.
    assert load_arch("tpu-v1").peak_gmacs == pytest.approx(45_875.2)
    assert load_arch("tpu-v1").memory.nram_kib == 28 * 1024
    assert load_arch("nvdla-large").peak_macs_per_cycle() == (2048, "int8")
    assert load_arch("nvdla-small").peak_macs_per_cycle() == (64, "int8")
    # Eyeriss: 168 PEs at 200 MHz; the paper's 33.6-84 GOPS at 100-250 MHz counts 2 ops/MAC.
    assert load_arch("eyeriss").peak_gmacs == pytest.approx(33.6)
    assert load_arch("textbook-7.11").peak_macs_per_cycle() == (512, "fp16")


def test_round_trip_of_awkward_strings_and_empty_tables() -> None:
    arch = replace(load_arch("edge-int8"), name='we "quote"\\', source="tab\tnew\nline \x7f é ✓")
    text = arch_to_toml(arch)
    assert loads_arch(text) == arch
    assert "\n\n[matrix]\n" in text and 'dataflow = "os"' in text


def test_fingerprint_covers_parameters_but_not_names() -> None:
    edge = load_arch("edge-int8")
    assert len(fingerprint(edge)) == 64 and fingerprint(edge) == fingerprint(load_arch("edge-int8"))
    assert fingerprint(replace(edge, name="my-npu", source="")) == fingerprint(edge)
    assert fingerprint(with_overrides(edge, {"dram.latency_cycles": 101})) != fingerprint(edge)


def test_min_buffer_rule() -> None:
    """32x32 int8: WRAM >= 32*32*1 = 1024 B; NRAM >= 32*32*(1 + 4) = 5120 B.
    16x16 with fp16 and fp32: the narrowest dtype (fp16, 2 B) sets it: 512 B and 1536 B."""
    assert min_buffer_bytes(MatrixUnit("systolic", 32, 32, "os", {"int8": 1024})) == (5120, 1024)
    assert min_buffer_bytes(MatrixUnit("ideal", 16, 16, "os", {"fp32": 256, "fp16": 512})) == (1536, 512)


def test_overrides_rederive_systolic_rates_and_keep_the_original() -> None:
    edge = load_arch("edge-int8")
    big = with_overrides(edge, {"matrix.rows": 64, "dram.bandwidth_gbps": 12.8})
    assert (big.matrix.rows, big.dram.bandwidth_gbps) == (64, 12.8)
    assert big.matrix.macs_per_cycle == {"int8": 2048}
    assert edge.matrix.rows == 32 and edge.matrix.macs_per_cycle == {"int8": 1024}
    assert with_overrides(edge, {"dram.bandwidth_gbps": 12}).dram.bandwidth_gbps == 12.0
    assert isinstance(with_overrides(edge, {"dram.bandwidth_gbps": 12}).dram.bandwidth_gbps, float)


def test_overrides_of_dict_entries_and_whole_tables() -> None:
    book = load_arch("textbook-7.7")
    slow = with_overrides(book, {"vector.ops_per_cycle.DIV_32": 32})
    assert slow.vector.ops_per_cycle["DIV_32"] == 32 and slow.vector.ops_per_cycle["ADD_32"] == 256
    fp32_only = with_overrides(book, {"matrix.macs_per_cycle": {"fp32": 128}})
    assert fp32_only.matrix.macs_per_cycle == {"fp32": 128}


@pytest.mark.parametrize("overrides, message", [
    ({"matrix.rowz": 64}, "overrides: unknown field matrix.rowz (did you mean matrix.rows"),
    ({"dataflow": "ws"}, "overrides: unknown field dataflow (did you mean matrix.dataflow?)"),
    ({"matrix.rows.x": 1}, "overrides: unknown field matrix.rows.x"),
    ({"matrix.rows": "64"}, "overrides: matrix.rows: expected an integer, got str '64'"),
    ({"matrix.dataflow": "xs"}, "overrides: matrix.dataflow: 'xs' is not one of os, ws, is"),
    ({"matrix.rows": 0}, "overrides: matrix.rows: must be > 0, got 0"),
    ({"matrix": 5}, "overrides: matrix: expected a table [matrix], got int 5"),
    ({"matrix": 5, "matrix.rows": 3}, "overrides: matrix.rows: matrix was overridden by a non-table"),
    ({"matrix.macs_per_cycle": {"int8": 5}},
     "overrides: matrix.macs_per_cycle.int8: 5 contradicts rows*cols = 1024"),
])
def test_bad_overrides_raise_one_line(overrides: dict, message: str) -> None:
    with pytest.raises(ArchError) as err:
        with_overrides(load_arch("edge-int8"), overrides)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


@pytest.mark.parametrize("text, expected", [
    ("matrix.rows=64", ("matrix.rows", 64)),
    ("dram.bandwidth_gbps = 12.8", ("dram.bandwidth_gbps", 12.8)),
    ("matrix.dataflow=ws", ("matrix.dataflow", "ws")),
    ('name="x y"', ("name", "x y")),
    ("matrix.macs_per_cycle={int8=4096}", ("matrix.macs_per_cycle", {"int8": 4096})),
])
def test_parse_override(text: str, expected: tuple) -> None:
    assert parse_override(text) == expected


def test_parse_override_needs_an_equals_sign() -> None:
    with pytest.raises(ArchError, match="expected FIELD=VALUE"):
        parse_override("matrix.rows")


def test_unknown_preset_suggests_close_names() -> None:
    with pytest.raises(ArchError, match=r"edge-int9: no such preset or arch file \(did you mean ed"):
        load_arch("edge-int9")


def test_arch_in_code_defaults_are_valid_once_rates_are_given() -> None:
    arch = Arch(name="x", matrix=MatrixUnit(macs_per_cycle={"int8": 1024}))
    assert loads_arch(arch_to_toml(arch)) == arch
