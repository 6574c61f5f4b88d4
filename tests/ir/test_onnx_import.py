"""ONNX: a zoo model exported with torch.onnx and re-imported gives the same analysis totals."""

import pytest
import torch
from torch import nn

from aics.analysis.analyze import analyze
from aics.errors import ModelError, UnsupportedOpError
from aics.ir.onnx_import import import_onnx
from aics.ir.torch_import import import_module
from aics.models import load_torch


def _export(module, x, path):
    # PRESERVE keeps BatchNorm nodes (EVAL mode would fold them into the convs before export).
    torch.onnx.export(module, (x,), str(path), dynamo=False, opset_version=17,
                      training=torch.onnx.TrainingMode.PRESERVE)


def _perturb(module):
    """Fresh BN layers all hold 1s and 0s; the exporter would dedupe equal initializers."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.rand(p.shape, generator=gen) * 0.01)


# alexnet_2gpu is absent: LocalResponseNorm exports as pad/avg_pool3d arithmetic, not LRN.
# bert_base is absent: the exporter folds its position/token-type lookups into constants.
@pytest.mark.parametrize("name", ["lenet5", "resnet18", "mobilenet_v2", "shufflenet_v2_x0_5", "squeezenet1_1",
                                  "vit_tiny", "lstm_seq", "gru_seq", "conv_autoencoder", "googlenet"])
def test_onnx_roundtrip_totals(name, tmp_path):
    tm = load_torch(name)
    _perturb(tm.module)
    _export(tm.module, tm.example_input(), tmp_path / "m.onnx")
    ours = analyze(import_module(tm.module, tm.input_shape, tm.input_dtype)).total
    theirs = analyze(import_onnx(tmp_path / "m.onnx")).total
    assert (theirs.params, theirs.macs, theirs.neurons) == (ours.params, ours.macs, ours.neurons)


def test_onnx_gelu_and_layernorm_shapes(tmp_path):
    m = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8), nn.GELU()).eval()
    _export(m, torch.randn(2, 3, 8), tmp_path / "m.onnx")
    g = import_onnx(tmp_path / "m.onnx")
    assert [n.op for n in g.nodes if n.op not in ("input", "const")][:2] == ["linear", "layer_norm"]
    assert g[g.outputs[0]].shape == (2, 3, 8)


def test_corrupt_onnx(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not a protobuf \xff\xfe")
    with pytest.raises(ModelError, match="bad.onnx"):
        import_onnx(bad)


def test_dynamic_dims_need_a_shape(tmp_path):
    m = nn.Linear(4, 2).eval()
    torch.onnx.export(m, (torch.randn(1, 4),), str(tmp_path / "d.onnx"), dynamo=False,
                      input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    with pytest.raises(ModelError, match="dynamic dimension 'batch'"):
        import_onnx(tmp_path / "d.onnx")
    assert import_onnx(tmp_path / "d.onnx", (3, 4))[import_onnx(tmp_path / "d.onnx", (3, 4)).outputs[0]].shape == (3, 2)


def test_unsupported_onnx_op_is_named(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Celu", ["x"], ["y"], name="my_celu")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(graph), str(tmp_path / "c.onnx"))
    with pytest.raises(UnsupportedOpError, match="'Celu' at node 'my_celu'"):
        import_onnx(tmp_path / "c.onnx")
