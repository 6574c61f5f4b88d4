"""The HTML report: self-contained (no URL, no script, images inline), the model and every layer
in it, and it renders in headless Chromium to a non-blank page."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from aics.viz.report import build_html
from aics.viz.timeline import check_trace, load_trace

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1200,900")


@pytest.fixture(scope="module")
def lenet_html(lenet_profile):
    prof, trace = lenet_profile
    return build_html(prof, check_trace(load_trace(trace)))


def test_html_is_self_contained(lenet_html):
    assert "http://" not in lenet_html and "https://" not in lenet_html
    assert "<script" not in lenet_html.lower() and "<link" not in lenet_html.lower()
    assert "@import" not in lenet_html and "url(" not in lenet_html
    srcs = re.findall(r'src="([^"]*)"', lenet_html)
    assert len(srcs) == 3  # roofline, unit timeline, energy
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and b"http" not in png


def test_html_has_the_model_every_layer_and_the_numbers(lenet_html, lenet_profile):
    prof, _ = lenet_profile
    r = prof.report
    assert "<title>aics report: lenet5 on edge-int8</title>" in lenet_html
    for layer in r["layers"]:
        assert f"<td>{layer['name']}</td><td>{layer['op']}</td><td class=\"n\">{layer['cycles']:,}</td>" in lenet_html
    assert f"<b>{r['cycles']:,}</b><span>cycles</span>" in lenet_html
    assert "Ridge at 40 MAC/B" in lenet_html and "5 layers and the whole network" in lenet_html
    for unit in ("load", "store", "matrix", "vector"):
        assert f"<td>{unit}</td>" in lenet_html
    # energy rows add up to the simulator's total
    rows = re.findall(r"<tr><td>(\w+)</td><td class='n'>([\d,.]+)</td>", lenet_html)
    assert {name for name, _ in rows} >= {"mac", "dram", "nram", "wram"}
    assert sum(float(v.replace(",", "")) for _, v in rows) == pytest.approx(r["energy_pj"] / 1e6, abs=0.01)


def test_html_escapes_names(lenet_profile):
    from dataclasses import replace

    prof, _ = lenet_profile
    text = build_html(replace(prof, model="<b>evil & co</b>"))
    assert "<b>evil" not in text and "&lt;b&gt;evil &amp; co&lt;/b&gt;" in text


def test_cli_report(cli, tmp_path):
    out = tmp_path / "report.html"
    code, stdout, err = cli("report", "lenet5", "-a", "edge-int8", "-o", out)
    assert code == 0, err
    assert "-> " in stdout and out.read_text().count("data:image/png;base64,") == 3


def test_cli_report_bad_arch_writes_nothing(cli, tmp_path):
    out = tmp_path / "report.html"
    code, stdout, err = cli("report", "lenet5", "-a", "edge-int9", "-o", out)
    assert code == 2 and stdout == "" and err.count("\n") == 1 and "did you mean edge-int8" in err
    assert not out.exists()


def _chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium is not installed "
                    "(apt-get install chromium chromium-driver; .ci/run does it)")
def test_report_renders_in_headless_chromium(lenet_html, tmp_path):
    import matplotlib.image

    page = tmp_path / "report.html"
    page.write_text(lenet_html, encoding="utf-8")
    shot = tmp_path / "shot.png"
    done = _chromium(f"--screenshot={shot}", page.as_uri(), tmp=tmp_path)
    assert shot.exists(), done.stderr[-2000:]
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (900, 1200)
    gray = pixels[..., :3].mean(axis=2)
    assert gray.std() > 0.05  # not a blank page: text, cards and tables
    assert (gray < 0.3).mean() > 0.005  # dark text is there
    assert len(np.unique((gray * 255).astype(np.uint8))) > 20
    dom = _chromium("--dump-dom", page.as_uri(), tmp=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "aics report: lenet5" in dom.stdout and "features.1" in dom.stdout
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
