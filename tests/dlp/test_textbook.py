"""Exercises 7.7-7.12 (examples/textbook/*.s) on the textbook presets, cycle counts derived by hand.

Preset numbers used below (checked by ``test_preset_numbers``):

* textbook-7.7: 1 GHz; 256 fp32 MAC/cycle; DRAM 64 GB/s = 64 B/cycle, latency 0.
* textbook-7.11: four such cores; DRAM 128 GB/s = 128 B/cycle in total, one channel shared FCFS;
  SharedRAM link 1 TB/s = 1000 B/cycle per core.

Rules used: each unit runs its instructions in order; in the textbook form only ``sync`` orders
different units; a sync waits for everything before it (on every core); transfers touching DRAM
take the one channel in the order they become ready (ties: lower core first, then program order).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aics.dlp import sim
from aics.dlp.arch_io import load_arch
from aics.dlp.asm import assemble, assemble_file, disassemble

EXAMPLES = Path(__file__).parents[2] / "examples" / "textbook"


def cycles(name: str, preset: str) -> int:
    arch = load_arch(preset)
    return sim.run(assemble_file(EXAMPLES / name, arch), arch, mode="timing").cycles


def test_preset_numbers() -> None:
    one, four = load_arch("textbook-7.7"), load_arch("textbook-7.11")
    assert (one.frequency_ghz, one.cores, one.matrix.kind) == (1.0, 1, "ideal")
    assert (one.matrix.macs_per_cycle["fp32"], one.dram.bandwidth_gbps, one.dram.latency_cycles) == (256, 64, 0)
    assert (one.memory.nram_kib, one.memory.wram_kib) == (128, 256)
    assert (four.cores, four.dram.bandwidth_gbps, four.dram.latency_cycles) == (4, 128, 0)
    assert (four.memory.sram_bandwidth_gbps, four.memory.sram_kib) == (1000, 2048)
    assert four.matrix.macs_per_cycle["fp32"] == 256


def test_7_7() -> None:
    """FC 1x256 @ 256x1, fp32: input 1024 B -> 16, weights 1024 B -> 16 (same load unit, in
    order), sync; 256 MACs -> 1; sync; output 4 B -> ceil(4/64) = 1.  16 + 16 + 1 + 1 = 34."""
    assert cycles("ex7_07.s", "textbook-7.7") == 34


def test_7_8_serial() -> None:
    """FC 32x256 @ 256x128: input 32768 B -> 512, weights 131072 B -> 2048, sync;
    32*256*128 = 1048576 MACs -> 4096; sync; output 16384 B -> 256.  512+2048+4096+256 = 6912."""
    assert cycles("ex7_08_serial.s", "textbook-7.7") == 6912


def test_7_8_pipelined() -> None:
    """Weights in 4 blocks of 256x32 (32768 B -> 512), 262144 MACs -> 1024 per block, output
    block 4096 B -> 64.  Round 1: input 512 + block 0 512 = 1024.  Round 2: compute 0 (1024) ||
    load 1 (512) -> 1024.  Loop x2: compute (1024) || load 512 + store 64 on the channel -> 1024
    each.  Then compute 3 || store 2 -> 1024; last store 64.
    1024 + 1024 + 2*1024 + 1024 + 64 = 5184."""
    assert cycles("ex7_08_pipelined.s", "textbook-7.7") == 5184


def test_7_9_serial() -> None:
    """FC 1024x256 @ 256x128: weights 131072 B -> 2048; 16 tiles of 64 rows, each: input 65536 B
    -> 1024, 64*256*128 = 2097152 MACs -> 8192, output 32768 B -> 512, all separated by syncs.
    2048 + 16 * (1024 + 8192 + 512) = 2048 + 16 * 9728 = 157696."""
    assert cycles("ex7_09_serial.s", "textbook-7.7") == 157696


def test_7_9_double_buffered() -> None:
    """32 tiles of 32 rows: input 32768 B -> 512, 1048576 MACs -> 4096, output 16384 B -> 256.
    Round 1: weights 2048 + tile 0 512 = 2560.  Round 2: compute 0 (4096) || load 1.
    30 loop rounds: compute (4096) || load 512 + store 256 on the channel -> 4096 each.
    Then compute 31 || store 30 -> 4096; last store 256.
    2560 + 4096 + 30*4096 + 4096 + 256 = 2560 + 32*4096 + 256 = 133888."""
    assert cycles("ex7_09_double_buffered.s", "textbook-7.7") == 133888


def test_7_10_serial() -> None:
    """7.9 with weights compressed to 1/4 (32768 B -> 512) and inputs to 1/2 (a 64-row tile
    32768 B -> 512); compute (8192 per tile) and outputs (512) unchanged.
    512 + 16 * (512 + 8192 + 512) = 512 + 16 * 9216 = 147968."""
    assert cycles("ex7_10_serial.s", "textbook-7.7") == 147968


def test_7_10_double_buffered() -> None:
    """The 7.9 pipeline with weights 32768 B -> 512 and 32-row input tiles 16384 B -> 256.
    Round 1: 512 + 256 = 768; then 32 compute-bound rounds of 4096 (load 256 + store 256 < 4096);
    last store 256.  768 + 32*4096 + 256 = 132096."""
    assert cycles("ex7_10_double_buffered.s", "textbook-7.7") == 132096


def test_7_11_serial() -> None:
    """FC 32x256 @ 256x128 on 4 cores, 32 output columns each; every core loads the whole input
    (32768 B) and its weights (256x32 fp32 = 32768 B): 256 cycles each on the one channel.
    At cycle 0 the four input loads are ready: cores 0..3 take 0-256, 256-512, 512-768, 768-1024;
    the weight loads become ready at 256, 512, 768, 1024 and follow: 1024-1280, ..., 1792-2048.
    Sync at 2048; 32*256*32 = 262144 MACs -> 1024 -> 3072; sync; four 4096 B stores of 32
    cycles one after another -> 3072 + 128 = 3200."""
    assert cycles("ex7_11_serial.s", "textbook-7.11") == 3200


def test_7_11_overlapped() -> None:
    """The input goes to the SharedRAM once, the weights in two halves (16384 B -> 128 each).
    Round 1: ready at 0: core 0's input (256) and cores 1-3's first halves -> 0-256, 256-384,
    384-512, 512-640; core 0's first half (ready 256) 640-768.  Sync 768.
    Round 2: SharedRAM -> NRAM 32768 B at 1000 B/cycle -> 33 on every core's own link: 801.
    Round 3: compute the first halves, 131072 MACs -> 512 (801-1313) || second halves on the
    channel 4 x 128 = 801-1313.  Sync 1313.
    Round 4: compute the second halves -> 1825 || stores of the first halves (2048 B -> 16 each).
    Round 5: stores of the second halves, 4 x 16 = 64 -> 1889."""
    assert cycles("ex7_11_overlapped.s", "textbook-7.11") == 1889


def test_7_12_serial() -> None:
    """FC 1024x256 @ 256x2048 on 4 cores; core k computes 512 columns as 4 blocks of 128.
    Input -> SharedRAM 1048576 B / 128 = 8192.  Per block: 4 weight blocks of 131072 B -> 1024
    each on the channel = 4096.  Per 64-row tile: SharedRAM -> NRAM 65536 B / 1000 -> 66;
    2097152 MACs -> 8192; 4 stores of 32768 B -> 256 each = 1024 on the channel.
    8192 + 4 * (4096 + 16 * (66 + 8192 + 1024)) = 8192 + 4 * 152608 = 618624."""
    assert cycles("ex7_12_serial.s", "textbook-7.11") == 618624


def test_7_12_double_buffered() -> None:
    """Same split, 32-row tiles double-buffered, weight blocks double-buffered in WRAM.
    Prologue: core 0's input -> SharedRAM 0-8192, cores 1-3's weight block 0 (1024 each)
    8192-11264, core 0's (ready at 8192, after the other three) 11264-12288; tile 0 over the
    link 33 -> 12321.  Then 4 blocks x 32 tiles = 128 rounds, each compute-bound at 4096 (the
    link brings the next tile in 33; the channel carries 4 stores x 128 = 512, plus in the first
    two rounds of blocks 0-2 four half weight blocks of 65536 B -> 512 each = 2048).
    Last: 4 stores x 128 = 512.  12321 + 128 * 4096 + 512 = 537121."""
    assert cycles("ex7_12_double_buffered.s", "textbook-7.11") == 537121


COVERED = ("ex7_07.s", "ex7_08_serial.s", "ex7_08_pipelined.s", "ex7_09_serial.s", "ex7_09_double_buffered.s",
           "ex7_10_serial.s", "ex7_10_double_buffered.s", "ex7_11_serial.s", "ex7_11_overlapped.s",
           "ex7_12_serial.s", "ex7_12_double_buffered.s")


def test_every_example_has_a_test() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.s")) == sorted(COVERED)


@pytest.mark.parametrize("name", COVERED)
def test_examples_disassemble_to_the_same_code(name: str) -> None:
    program = assemble_file(EXAMPLES / name)
    assert assemble(disassemble(program)).code == program.code
