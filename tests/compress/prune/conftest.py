"""Keep every latency lookup table these tests build out of the home directory and the repo."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _latency_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AICS_CACHE_DIR", str(tmp_path / "aics-cache"))
