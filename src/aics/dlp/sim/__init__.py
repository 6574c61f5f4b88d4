"""DLP simulators sharing one interface: ``run(program, arch, inputs=None) -> Result``.

``functional.run`` executes on real data (outputs, final memory); ``timing.run`` gives cycles
and counters; ``run`` here does both (``mode="both"``) or either one.
"""

from __future__ import annotations

import os
from typing import Literal

import numpy as np

from aics.dlp.arch import Arch
from aics.dlp.program import Program
from aics.dlp.sim import functional, timing
from aics.dlp.sim.report import Result, TimingReport

Mode = Literal["both", "timing", "functional"]


def run(program: Program, arch: Arch, inputs: dict[str, np.ndarray] | None = None, mode: Mode = "both",
        trace: str | os.PathLike[str] | None = None, host: functional.HostRunner | None = None) -> Result:
    """Simulate ``program`` on ``arch``: timing, functional, or both (one ``Result``); ``host``
    executes the program's host ops in functional runs."""
    result = functional.run(program, arch, inputs, host) if mode != "timing" else Result()
    if mode != "functional":
        result.timing = timing.simulate(program, arch, trace)
    return result


__all__ = ["Mode", "Result", "TimingReport", "run"]
