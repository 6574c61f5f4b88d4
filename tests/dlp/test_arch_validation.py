"""Each way an arch file can be wrong gives one line naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from aics.dlp.arch_io import load_arch
from aics.errors import ArchError

VALID = """\
name = "t"
frequency_ghz = 1.0
cores = 1

[matrix]
kind = "systolic"
rows = 32
cols = 32
dataflow = "os"
macs_per_cycle = { int8 = 1024 }

[memory]
nram_kib = 512
wram_kib = 512

[dram]
bandwidth_gbps = 25.6
latency_cycles = 100
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "arch.toml"
    path.write_text(text)
    return path


def test_the_minimal_file_is_valid_and_defaults_fill_the_rest(tmp_path: Path) -> None:
    arch = load_arch(_write(tmp_path, VALID))
    assert arch.vector.lanes == 64 and arch.memory.sram_kib == 0 and arch.energy.pj_per_mac == {}


def test_an_ideal_unit_needs_no_dataflow(tmp_path: Path) -> None:
    text = VALID.replace('kind = "systolic"', 'kind = "ideal"').replace('dataflow = "os"\n', "")
    assert load_arch(_write(tmp_path, text)).matrix.kind == "ideal"


BROKEN = [  # (edit of VALID: old, new), expected message after "FILE: "
    (('name = "t"\n', ""), "missing required field name"),
    (("[matrix]", "[matrixx]"), "unknown field matrixx (did you mean matrix?)"),
    (("rows = 32", "rowz = 32"), "unknown field matrix.rowz (did you mean matrix.rows"),
    (('dataflow = "os"\n', ""), "missing required field matrix.dataflow"),
    (("latency_cycles = 100\n", ""), "missing required field dram.latency_cycles"),
    (("rows = 32", 'rows = "32"'), "matrix.rows: expected an integer, got str '32'"),
    (("rows = 32", "rows = 32.0"), "matrix.rows: expected an integer, got float 32.0"),
    (("cores = 1", "cores = true"), "cores: expected an integer, got bool True"),
    (("frequency_ghz = 1.0", 'frequency_ghz = "fast"'), "frequency_ghz: expected a number"),
    (("macs_per_cycle = { int8 = 1024 }", "macs_per_cycle = 1024"),
     "matrix.macs_per_cycle: expected a table of name = value, got int 1024"),
    (("rows = 32", "rows = -4"), "matrix.rows: must be > 0, got -4"),
    (("frequency_ghz = 1.0", "frequency_ghz = 0.0"), "frequency_ghz: must be > 0, got 0.0"),
    (("frequency_ghz = 1.0", "frequency_ghz = nan"), "frequency_ghz: must be > 0, got nan"),
    (("bandwidth_gbps = 25.6", "bandwidth_gbps = -1"), "dram.bandwidth_gbps: must be > 0, got -1.0"),
    (("latency_cycles = 100", "latency_cycles = -1"), "dram.latency_cycles: must be >= 0, got -1"),
    (('dataflow = "os"', 'dataflow = "xs"'), "matrix.dataflow: 'xs' is not one of os, ws, is"),
    (('kind = "systolic"', 'kind = "systolik"'),
     "matrix.kind: 'systolik' is not one of systolic, ideal (did you mean systolic?)"),
    (("cores = 1", "cores = 0"), "cores: must be at least 1, got 0"),
    (("macs_per_cycle = { int8 = 1024 }", "macs_per_cycle = { int8 = 512 }"),
     "matrix.macs_per_cycle.int8: 512 contradicts rows*cols = 1024 of a systolic array"),
    (("macs_per_cycle = { int8 = 1024 }", "macs_per_cycle = { int4 = 1024 }"),
     "matrix.macs_per_cycle.int4: unknown dtype (one of int8, int16, fp16, fp32)"),
    (("macs_per_cycle = { int8 = 1024 }", "macs_per_cycle = {}"),
     "matrix.macs_per_cycle: must list at least one dtype"),
    (("nram_kib = 512", "nram_kib = 4"),
     "memory.nram_kib: 4 KiB cannot hold one 32x32 operand tile plus its 32-bit accumulators (5120 B)"),
    (("wram_kib = 512", "wram_kib = 0"), "memory.wram_kib: must be > 0, got 0"),
    (("wram_kib = 512", "wram_kib = 512\nsram_kib = 2048"),
     "memory.sram_bandwidth_gbps: must be > 0 when sram_kib > 0"),
    (("wram_kib = 512", "wram_kib = 512\nsram_bandwidth_gbps = 64.0"),
     "memory.sram_bandwidth_gbps: is set but sram_kib = 0"),
    (("wram_kib = 512", "wram_kib = 512\nsram_kib = -1"), "memory.sram_kib: must be >= 0, got -1"),
    (("[dram]", "[vector]\nops_per_cycle = { add32 = 8 }\n\n[dram]"),
     "vector.ops_per_cycle.add32: op names are OP_WIDTH in capitals"),
    (("[dram]", "[energy]\npj_per_byte = { l2 = 5.0 }\n\n[dram]"),
     "energy.pj_per_byte.l2: unknown memory level (one of dram, sram, nram, wram)"),
    (("[dram]", "[energy]\npj_per_vector_op = -0.1\n\n[dram]"),
     "energy.pj_per_vector_op: must be >= 0, got -0.1"),
    (("[memory]\nnram_kib = 512\nwram_kib = 512\n", ""), "missing required table [memory]"),
    (('name = "t"', 'name = " "'), "name: must not be empty"),
    (("rows = 32", "rows 32"), "invalid TOML: Expected '=' after a key in a key/value pair (at line 7"),
]


@pytest.mark.parametrize("edit, message", BROKEN, ids=[m.split(":")[0][:40] for _, m in BROKEN])
def test_broken_file_gives_one_line_naming_file_and_field(tmp_path: Path, edit: tuple[str, str],
                                                           message: str) -> None:
    old, new = edit
    assert old in VALID
    path = _write(tmp_path, VALID.replace(old, new, 1))
    with pytest.raises(ArchError) as err:
        load_arch(path)
    text = str(err.value)
    assert text.startswith(f"{path}: {message}"), text
    assert "\n" not in text


def test_a_big_array_needs_big_buffers(tmp_path: Path) -> None:
    """256x256 int8: WRAM >= 64 KiB (65,536 B); 32 KiB is refused."""
    text = (VALID.replace("rows = 32", "rows = 256").replace("cols = 32", "cols = 256")
            .replace("int8 = 1024", "int8 = 65536").replace("wram_kib = 512", "wram_kib = 32"))
    message = r"memory.wram_kib: 32 KiB cannot hold one 256x256 weight tile \(65536 B\)"
    with pytest.raises(ArchError, match=message):
        load_arch(_write(tmp_path, text))


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ArchError, match="no such preset or arch file"):
        load_arch(tmp_path / "missing.toml")
    bad = tmp_path / "bin.toml"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ArchError, match="bin.toml: cannot read"):
        load_arch(bad)
