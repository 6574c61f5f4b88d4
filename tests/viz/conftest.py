"""Shared fixtures of the report tests: LeNet-5 quantized once (seeded), the edge-int8 arch, and
the real CLI entry point."""

from __future__ import annotations

import pytest

from aics.cli.main import main


@pytest.fixture(scope="session")
def edge():
    from aics.dlp.arch_io import load_arch

    return load_arch("edge-int8")


@pytest.fixture(scope="session")
def qlenet():
    from aics.compiler.workflow import quantized_model

    return quantized_model("lenet5")


@pytest.fixture(scope="session")
def lenet_profile(qlenet, edge, tmp_path_factory):
    """LeNet-5 timed on edge-int8 with its Chrome trace kept (``.trace``)."""
    from aics.viz.profile import profile

    trace = tmp_path_factory.mktemp("trace") / "lenet5.json"
    prof = profile(qlenet, edge, "lenet5", trace=trace)
    return prof, trace


@pytest.fixture
def cli(capsys):
    """Run ``aics ARGS...`` in-process: (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run
