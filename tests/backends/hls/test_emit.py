"""The emitted project: what it contains, how it is built, what it refuses, the estimate."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from torch import nn

from aics.backends.hls import build_project, estimate, write_project
from aics.backends.hls.estimate import DEPTH
from aics.cli.main import main
from aics.errors import AicsError, UnsupportedOpError
from aics.ir.serialize import save
from aics.zoo.lenet import LeNet5

from .conftest import quantize_module


@pytest.fixture(scope="module")
def lenet_q26() -> object:
    return build_project(quantize_module(LeNet5(), (1, 1, 32, 32), "fixed:Q2.6:sat", "lenet5"))


def test_project_layout_and_c_style(lenet_q26: object) -> None:
    files = lenet_q26.files  # type: ignore[attr-defined]
    assert set(files) == {"aics_top.c", "aics_top.h", "aics_weights.h", "aics_kernels.h", "aics_tb.c", "Makefile"}
    top = files["aics_top.c"]
    assert "void aics_top(aics_in_t in[AICS_IN_SIZE], aics_out_t out[AICS_OUT_SIZE])" in top
    assert len(re.findall(r"^static void L\d+_", top, re.M)) == 12  # one function per layer
    assert "#pragma HLS PIPELINE II=1" in top and "#pragma HLS ARRAY_PARTITION variable=lb" in top
    assert "static int16_t lb[6][5][14]" in top  # the second conv streams through a 5-row line buffer
    assert "if (" not in top.split("L3_features_3")[1].split("L4_")[0]  # unpadded: no bound checks
    # fixed point is spelled ap_fixed only in comments; the C uses stdint types
    code = re.sub(r"/\*.*?\*/", "", top + files["aics_top.h"], flags=re.S)
    assert "ap_fixed" not in code and "ap_fixed<8,2,AP_TRN,AP_SAT>" in files["aics_top.h"]
    assert "static const int8_t L0_features_0_w[6][1][5][5]" in files["aics_weights.h"]
    assert "-std=c99 -O2 -Wall -Wextra -Werror" in files["Makefile"]


def test_unsupported_op_named_before_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    graph = quantize_module(nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1)), (1, 4), "int8")
    with pytest.raises(UnsupportedOpError, match=r"softmax.*node '1'"):
        build_project(graph)
    save(graph, tmp_path / "q.json")
    assert main(["hls", str(tmp_path / "q.json"), "-o", str(tmp_path / "never")]) == 2
    assert "softmax" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()  # nothing written


def test_outdir_refused_unless_force(lenet_q26: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "prj"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(AicsError, match="not empty"):
        write_project(lenet_q26, out)  # type: ignore[arg-type]
    assert main(["hls", "fulladder_mlp", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--force" in err
    assert main(["hls", "fulladder_mlp", "-o", str(out), "--force", "--csim", "-f", "json"]) == 0
    assert not (out / "keep.txt").exists() and (out / "aics_top.c").exists() and (out / "estimate.json").exists()
    assert '"bit_exact": true' in capsys.readouterr().out


def test_estimate_follows_the_pragmas() -> None:
    graph = quantize_module(nn.Sequential(nn.Linear(9, 20), nn.ReLU(), nn.Linear(20, 5)), (1, 9), "int8")
    est = estimate(build_project(graph))
    first, relu, last = est.layers
    assert first.cycles == 20 * (9 + DEPTH) and first.dsp == 1
    assert relu.cycles == 1 * (20 + DEPTH) and relu.dsp == 0
    assert first.const_bits == 20 * 9 * 8 + 20 * (32 + 32 + 8)  # weights, bias, multiplier, shift
    assert est.cycles == sum(e.cycles for e in est.layers) and est.dsp == 2
    assert est.to_dict()["total"]["memory_bits"] == est.memory_bits  # type: ignore[index]
    assert np.isfinite(last.memory_bits)
