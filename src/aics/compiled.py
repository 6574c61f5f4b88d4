"""Compiling per-instruction loops with numba, on first use.

Why: the timing simulator's goal is a million instructions a second; its per-instruction loops
(hazard sweep, scheduler, and framing a program file's code) cost ~1 us an instruction each in
CPython and ~20-40 ns compiled. The loops stay ordinary Python over numpy arrays, so that they
read like the rest of the package and run unchanged as Python under ``NUMBA_DISABLE_JIT=1`` (for
a debugger or coverage). numba is imported only when a compiled function is first called
(importing it takes ~0.5 s, which ``aics arch list`` should not pay), and its machine code is
cached on disk beside the source (``__pycache__``), so a process compiles nothing once a first
one has.
"""

from __future__ import annotations

from functools import cache, wraps
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def compiled(fn: F) -> F:
    """``fn`` compiled in nopython mode the first time it is called."""

    @cache
    def build() -> Callable[..., Any]:
        from numba import njit

        return njit(cache=True, nogil=True)(fn)

    @wraps(fn)
    def call(*args: Any) -> Any:
        return build()(*args)

    return call  # type: ignore[return-value]
