"""Typed errors. Every problem a user can cause is an ``AicsError``: the CLI prints its message on
one line and exits with status 2. Library code raises; it never prints or exits."""

from __future__ import annotations


class AicsError(Exception):
    """A problem with the user's input. ``str(err)`` is one line naming the problem and where."""

    def __str__(self) -> str:
        return " ".join(super().__str__().split())


class ModelError(AicsError):
    """A model that cannot be loaded, traced or built."""


class UnknownModelError(ModelError):
    """A zoo name that does not exist."""


class UnsupportedOpError(ModelError):
    """An operator the IR does not know, named with its node and source location."""


class ShapeError(ModelError):
    """Shapes that do not fit together (wrong input shape, mismatched operands)."""


class IRFormatError(AicsError):
    """A malformed or version-mismatched IR file."""


class ArchError(AicsError):
    """An architecture file with missing, unknown or contradictory fields."""


class AsmError(AicsError):
    """An assembly error, reported as ``FILE:LINE:COL: message``."""

    def __init__(self, message: str, file: str = "<input>", line: int = 0, col: int = 0) -> None:
        self.file, self.line, self.col, self.message = file, line, col, message
        super().__init__(f"{file}:{line}:{col}: {message}")


class ProgramFormatError(AicsError):
    """A program file that is truncated, corrupt or of another format version."""


class SimulationError(AicsError):
    """A program that does something illegal when run (out-of-range address, bad operand)."""


class CompileError(AicsError):
    """A graph the compiler cannot map (e.g. a tile that cannot fit on chip)."""


class QuantizationError(AicsError):
    """Bad quantization settings or data (empty calibration set, NaN input, bad format)."""


class DataError(AicsError):
    """Bad input data: wrong shape, NaN/Inf, empty dataset."""


class PruneError(AicsError):
    """A pruning request that cannot be met: an unreachable target, a plan for another model."""


class SweepError(AicsError):
    """A design-space sweep that cannot run: bad ``--set``, an unusable CSV, an unreachable cluster."""


class TraceError(AicsError):
    """A trace file that is not valid Chrome trace JSON or whose slices overlap on one unit."""
