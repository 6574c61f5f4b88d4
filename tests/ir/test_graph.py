"""IR core: builder, verifier, JSON round trip, text dump, importer errors."""

import numpy as np
import pytest
import torch
from torch import nn

from aics.errors import IRFormatError, ModelError, ShapeError, UnsupportedOpError
from aics.ir import attrs as A
from aics.ir.graph import GraphBuilder
from aics.ir.serialize import dump, from_dict, load, save, to_dict
from aics.ir.torch_import import import_module
from aics.ir.verify import VerifyError, verify


def _small_graph():
    b = GraphBuilder("small")
    x = b.input("x", (1, 3, 8, 8))
    w = b.const("w", (4, 3, 3, 3), data=np.arange(108, dtype=np.float32).reshape(4, 3, 3, 3))
    c = b.op("conv2d", [x, w], A.Conv2dAttrs(padding=(1, 1, 1, 1)), "conv")
    r = b.op("relu", [c], A.NoAttrs(), "relu")
    return b.build([r])


def test_builder_infers_shapes_and_verifies():
    g = verify(_small_graph())
    assert g["conv"].shape == (1, 4, 8, 8)
    assert g.users()["conv"] == ["relu"]


def test_json_roundtrip_is_exact(tmp_path):
    g = _small_graph()
    save(g, tmp_path / "g.json")
    back = load(tmp_path / "g.json")
    assert back.nodes == g.nodes and back.outputs == g.outputs
    np.testing.assert_array_equal(back.params["w"], g.params["w"])
    assert dump(back) == dump(g)


def test_text_dump_is_stable():
    text = dump(_small_graph())
    assert text.splitlines()[3] == ("  %conv = conv2d(%x, %w) {stride=[1,1], padding=[1,1,1,1], dilation=[1,1], "
                                    "groups=1} : float32[1,4,8,8]")


def test_bad_ir_files(tmp_path):
    with pytest.raises(IRFormatError, match="not an aics IR"):
        from_dict({"format": "x"})
    d = to_dict(_small_graph())
    d["version"] = 99
    with pytest.raises(IRFormatError, match="version 99"):
        from_dict(d)
    (tmp_path / "t.json").write_text("{truncated")
    with pytest.raises(IRFormatError, match="t.json"):
        load(tmp_path / "t.json")


def test_verifier_catches_broken_graphs():
    g = _small_graph()
    bad = g.with_nodes(tuple(reversed(g.nodes)))
    with pytest.raises(VerifyError, match="before they are defined"):
        verify(bad)
    wrong = g.with_nodes(g.nodes[:-1] + (g.nodes[-1].__class__(**{**g.nodes[-1].__dict__, "shape": (9,)}),))
    with pytest.raises(VerifyError, match="inferred"):
        verify(wrong)


def test_shape_error_names_node():
    with pytest.raises(ShapeError, match="node '0.0'.*input has 1 channels but the weight expects 3"):
        import_module(nn.Sequential(nn.Sequential(nn.Conv2d(3, 4, 3))).eval(), (1, 1, 8, 8))


def test_unsupported_function_names_op_node_and_line():
    class M(nn.Module):
        def forward(self, x):
            return torch.cumsum(x, 1)

    with pytest.raises(UnsupportedOpError, match=r"'torch.cumsum' at node 'cumsum' \(test_graph.py:\d+\)"):
        import_module(M(), (1, 4))


def test_unsupported_module_is_named():
    with pytest.raises(UnsupportedOpError, match="torch.nn.modules.linear.Bilinear"):
        import_module(nn.Sequential(nn.Bilinear(2, 2, 2)), (1, 2))


def test_untraceable_model():
    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(ModelError, match="cannot trace Branchy"):
        import_module(Branchy(), (1, 2))


def test_indexing_and_views():
    class M(nn.Module):
        def forward(self, x):
            a = x[:, 0]  # (2, 5)
            b = x[..., 1:4].permute(0, 2, 1)  # (2, 3, 3)
            c = x.unsqueeze(1).squeeze(1)[:, None]  # (2, 1, 3, 5)
            return a, b, c

    g = import_module(M(), (2, 3, 5))
    assert [g[o].shape for o in g.outputs] == [(2, 5), (2, 3, 3), (2, 1, 3, 5)]


def test_quant_annotations_roundtrip(tmp_path):
    from aics.ir.quant import QuantParams
    from aics.numerics import FixedType

    g = _small_graph()
    q = {"x": QuantParams("int8", (0.05,), (-3,)),
         "w": QuantParams("int8", (0.1, 0.2, 0.3, 0.4), (0, 0, 0, 0), axis=0),
         "relu": QuantParams("fixed", fixed=FixedType(8, 6, overflow="sat"))}
    g = g.with_nodes(g.nodes, quant=q)
    save(g, tmp_path / "q.json")
    assert load(tmp_path / "q.json").quant == q
    with pytest.raises(VerifyError, match="'nope'"):
        verify(g.with_nodes(g.nodes, quant={"nope": q["x"]}))
