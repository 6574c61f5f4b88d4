"""What each instruction costs on a given arch: cycles, whether it holds the DRAM channel,
bytes per memory level, MACs and energy.

Transfer times (bytes_per_cycle = bandwidth in GB/s / frequency in GHz, both taken as the decimal
numbers of the arch file, so 25.6 GB/s at 1 GHz is exactly 128/5 B/cycle):

* touching DRAM: ``latency + ceil(bytes / dram_bytes_per_cycle)``, holding the one DRAM channel;
* SharedRAM <-> NRAM/WRAM (or SharedRAM to SharedRAM): ``ceil(bytes / link_bytes_per_cycle)`` on
  the core's own link (``memory.sram_bandwidth_gbps``);
* NRAM/WRAM <-> NRAM/WRAM: ``ceil(bytes / (4 * vector.lanes))``: one 32-bit word per vector lane
  per cycle, the width of the on-chip datapath.

A transfer of zero cycles (no bytes, no latency) does not take the channel.
Matrix time: ``gemm_cost`` per GEMM of the instruction (``aics.dlp.systolic``); the textbook
``compute MAC_xx N`` takes ``ceil(N / rate)``, rate = ``matrix.macs_per_cycle[TYPE]``, else the
rate of fp32 (MAC_32) / fp16 (MAC_16). Vector time: ``ceil(elements / rate)`` with rate =
``vector.ops_per_cycle[op]``, else ``vector.lanes``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from aics.dlp.arch import Arch
from aics.dlp.isa import Compute, Instr, Range, Space, Unit, Work
from aics.dlp.systolic import gemm_cost, ideal_rate

LEVELS = ("dram", "sram", "nram", "wram")  # indexed by Space


class Cost(NamedTuple):
    unit: Unit
    cycles: int
    dram: bool  # holds the DRAM channel for ``cycles``
    macs: int
    mac_dtype: str
    vector_elems: int
    nbytes: tuple[int, int, int, int]  # bytes read + written per Space
    energy_pj: float


def rate(gbps: float, ghz: float) -> Fraction:
    """Bytes per cycle of a link, exact for the decimal numbers of an arch file."""
    return Fraction(str(gbps)) / Fraction(str(ghz))


class CostModel:
    """Costs on one arch; rates are turned into exact integer ratios once."""

    def __init__(self, arch: Arch, dram_size: int) -> None:
        self.arch = arch
        dram = rate(arch.dram.bandwidth_gbps, arch.frequency_ghz)
        self.dram = (dram.numerator, dram.denominator)
        self.link = None
        if arch.memory.sram_kib > 0 and arch.memory.sram_bandwidth_gbps > 0:
            link = rate(arch.memory.sram_bandwidth_gbps, arch.frequency_ghz)
            self.link = (link.numerator, link.denominator)
        self.local = 4 * arch.vector.lanes
        self.sizes = (dram_size, arch.memory.sram_kib * 1024, arch.memory.nram_kib * 1024,
                      arch.memory.wram_kib * 1024)
        self.pj_byte = tuple(arch.energy.pj_per_byte.get(level, 0.0) for level in LEVELS)
        self._memo: dict[tuple[object, ...], tuple[int, bool, float]] = {}

    def cost(self, instr: Instr, reads: tuple[Range, ...], writes: tuple[Range, ...]) -> Cost:
        """Cost of ``instr`` (whose ranges are given); ValueError if it cannot run on the arch."""
        work = instr.work()
        nbytes = [0, 0, 0, 0]
        for space, start, end in (*reads, *writes):
            if end > self.sizes[space]:
                name = Space(space).name
                raise ValueError(f"{name}[0x{start:x}, 0x{end:x}) is outside the {name} of {self.sizes[space]} bytes")
            nbytes[space] += end - start
        if work.src is not None and work.dst is not None:  # a transfer: bytes moved, not the hulls
            nbytes = [0, 0, 0, 0]
            nbytes[work.src] += work.nbytes
            nbytes[work.dst] += work.nbytes
        # Time and compute energy depend on the work only, not on addresses: memoised.
        key = (type(instr), work, getattr(instr, "type", None))
        timed = self._memo.get(key)
        if timed is None:
            timed = self._memo[key] = self._time(instr, work)
        cycles, dram, pj = timed
        pj += sum(n * per_byte for n, per_byte in zip(nbytes, self.pj_byte))
        return Cost(instr.unit, cycles, dram, work.macs, work.mac_dtype, work.vector_elems,
                    (nbytes[0], nbytes[1], nbytes[2], nbytes[3]), pj)

    def _time(self, instr: Instr, work: Work) -> tuple[int, bool, float]:
        arch = self.arch
        cycles, dram = 0, False
        if work.src is not None and work.dst is not None:
            cycles, dram = self._transfer(work.src, work.dst, work.nbytes)
        elif work.gemms:
            cycles = sum(gemm_cost(arch.matrix, m, k, n, work.mac_dtype).cycles for m, k, n in work.gemms)
        elif work.macs:
            per_cycle = arch.matrix.macs_per_cycle.get(instr.type.name) if isinstance(instr, Compute) else None
            cycles = -(-work.macs // (per_cycle or ideal_rate(arch.matrix, work.mac_dtype)))
        elif work.vector_elems:
            cycles = -(-work.vector_elems // arch.vector.ops_per_cycle.get(work.vector_op, arch.vector.lanes))
        energy = arch.energy
        pj = work.macs * energy.pj_per_mac.get(work.mac_dtype, 0.0) + work.vector_elems * energy.pj_per_vector_op
        return cycles, dram, pj

    def _transfer(self, src: Space, dst: Space, count: int) -> tuple[int, bool]:
        if Space.DRAM in (src, dst):
            num, den = self.dram
            cycles = self.arch.dram.latency_cycles + -(-count * den // num)
            return cycles, cycles > 0
        if Space.SRAM in (src, dst):
            if self.link is None:
                raise ValueError(f"the arch {self.arch.name} has no SharedRAM (memory.sram_kib = 0)")
            num, den = self.link
            return -(-count * den // num), False
        return -(-count // self.local), False
