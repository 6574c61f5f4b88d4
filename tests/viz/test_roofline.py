"""Roofline data and plot: the ridge at peak / bandwidth, one point per MAC layer and per network,
each point's coordinates from the simulator's own counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aics.dlp.arch_io import with_overrides
from aics.viz.profile import profile
from aics.viz.roofline import roofline_data, roofline_figure


def _artists(fig, prefix):
    ax = fig.axes[0]
    return [a for a in (*ax.lines, *ax.collections) if (a.get_gid() or "").startswith(prefix)]


def test_ridge_is_peak_over_bandwidth(lenet_profile, edge):
    prof, _ = lenet_profile
    data = roofline_data([prof])
    assert edge.peak_gmacs == 1024.0 and edge.dram.bandwidth_gbps == 25.6
    assert data.ridge == pytest.approx(1024 / 25.6) == pytest.approx(40.0)
    assert data.attainable(data.ridge) == pytest.approx(1024.0)
    assert data.attainable(1.0) == pytest.approx(25.6)
    fig = roofline_figure(data)
    (ridge,) = _artists(fig, "ridge")
    assert list(ridge.get_xdata()) == pytest.approx([40.0, 40.0])
    (dram,) = _artists(fig, "roof-dram")
    (compute,) = _artists(fig, "roof-compute")
    # the two roofs meet at (ridge, peak), and the DRAM roof has slope = bandwidth
    assert dram.get_xdata()[-1] == pytest.approx(40.0) and dram.get_ydata()[-1] == pytest.approx(1024.0)
    assert compute.get_xdata()[0] == pytest.approx(40.0) and set(compute.get_ydata()) == {1024.0}
    x0, y0 = dram.get_xdata()[0], dram.get_ydata()[0]
    assert y0 / x0 == pytest.approx(25.6)
    assert not _artists(fig, "roof-onchip")  # edge-int8 has no SharedRAM


def test_points_are_layers_plus_networks(lenet_profile):
    prof, _ = lenet_profile
    data = roofline_data([prof])
    mac_layers = [layer for layer in prof.report["layers"] if layer["macs"]]
    assert len(mac_layers) == 5  # 2 conv + 3 linear; the 2 max-pools have no MACs
    assert len(data.layers) == 5 and len(data.networks) == 1
    assert sorted(data.skipped) == ["lenet5/features.2 (no MACs)", "lenet5/features.5 (no MACs)"]
    fig = roofline_figure(data)
    plotted = sum(len(c.get_offsets()) for c in fig.axes[0].collections)
    assert plotted == len(mac_layers) + 1
    (net_artist,) = _artists(fig, "network:lenet5")
    net = data.networks[0]
    assert tuple(net_artist.get_offsets()[0]) == pytest.approx((net.intensity, net.gmacs))
    r = prof.report
    assert net.intensity == pytest.approx(r["macs"] / r["dram_bytes"])
    assert net.gmacs == pytest.approx(r["macs"] / r["cycles"] * 1.0)  # 1 GHz
    # per-layer DRAM bytes are recounted per layer; they add up to the run's total
    assert sum(v["dram"] for v in prof.layer_bytes.values()) == r["dram_bytes"]
    for p, layer in zip(data.layers, mac_layers):
        assert p.label == layer["name"] and p.cycles == layer["cycles"]
        assert p.gmacs == pytest.approx(layer["macs"] / layer["cycles"])
        assert p.gmacs <= data.attainable(p.intensity) * (1 + 1e-9)  # nothing beats the roof


def test_two_models_one_plot(lenet_profile, edge):
    from aics.compiler.workflow import quantized_model

    prof, _ = lenet_profile
    mlp = profile(quantized_model("mnist_mlp"), edge, "mnist_mlp")
    data = roofline_data([prof, mlp])
    expected = sum(1 for p in (prof, mlp) for layer in p.report["layers"] if layer["macs"]) + 2
    fig = roofline_figure(data)
    assert sum(len(c.get_offsets()) for c in fig.axes[0].collections) == expected == len(data.points)
    assert {p.label for p in data.networks} == {"lenet5", "mnist_mlp"}
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"lenet5", "mnist_mlp"} <= texts  # networks are labelled


def test_onchip_roof_when_there_is_a_sharedram(qlenet, edge):
    arch = with_overrides(edge, {"memory.sram_kib": 1024, "memory.sram_bandwidth_gbps": 512.0})
    data = roofline_data([profile(qlenet, arch, "lenet5")])
    assert data.onchip_gbps == 512.0
    (onchip,) = _artists(roofline_figure(data), "roof-onchip")
    assert onchip.get_xdata()[-1] == pytest.approx(1024 / 512)


def test_cli_roofline_svg_and_json(cli, tmp_path: Path):
    out = tmp_path / "roof.svg"
    code, stdout, err = cli("roofline", "lenet5", "-a", "edge-int8", "-o", out, "-f", "json")
    assert code == 0, err
    info = json.loads(stdout)
    assert info["ridge_mac_per_byte"] == pytest.approx(40.0)
    assert len(info["points"]) == 6 and sum(p["kind"] == "network" for p in info["points"]) == 1
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "lenet5" in svg


def test_cli_roofline_png_table(cli, tmp_path: Path):
    out = tmp_path / "roof.png"
    code, stdout, err = cli("roofline", "lenet5", "-a", "edge-int8", "-o", out)
    assert code == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "ridge 40 MAC/B" in stdout and "5 layers + 1 networks" in stdout


def test_cli_roofline_bad_format_is_one_line(cli, tmp_path: Path):
    code, stdout, err = cli("roofline", "lenet5", "-a", "edge-int8", "-o", tmp_path / "roof.jpeg")
    assert code == 2 and stdout == ""
    assert err.count("\n") == 1 and "unknown plot format '.jpeg'" in err
    assert not (tmp_path / "roof.jpeg").exists()
