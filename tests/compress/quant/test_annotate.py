"""Structure of quantized graphs (TFLite conventions), calibration errors, ONNX and BN models."""

import numpy as np
import pytest
import torch
from torch import nn

from aics.compress.quant.plan import QuantPlan
from aics.compress.quant.ptq import quantize_graph
from aics.compress.quant.workflow import load_subject, quantize_subject
from aics.errors import QuantizationError
from aics.ir.torch_import import import_module
from aics.ir.verify import verify
from aics.reference import Executor, dequantize
from aics.reference.executor import run_all


@pytest.fixture(scope="module")
def lenet_int8(lenet):
    return quantize_subject(lenet[2], QuantPlan()).graph


def test_every_tensor_is_annotated(lenet_int8):
    g = verify(lenet_int8)
    assert set(g.quant) == {n.name for n in g.nodes}
    assert g.quant["x"].dtype == "int8" and not g.quant["x"].per_channel


def test_fused_relu_pool_and_reshape_share_their_producers_params(lenet_int8):
    q = lenet_int8.quant
    assert q["features.0"] == q["features.1"] == q["features.2"]
    assert q["features.3"] == q["features.4"] == q["features.5"] == q["flatten"]
    assert q["classifier.0"] == q["classifier.1"] and q["classifier.0"].zero_point == (-128,)  # relu range [0, hi]
    assert q["classifier.4"] != q["classifier.2"]


def test_weights_per_channel_symmetric_and_bias_int32(lenet_int8):
    g = lenet_int8
    for layer in ("features.0", "features.3", "classifier.0", "classifier.2", "classifier.4"):
        w = g.quant[f"{layer}.weight"]
        assert w.dtype == "int8" and w.axis == 0 and set(w.zero_point) == {0}
        data = g.params[f"{layer}.weight"]
        codes = data / np.asarray(w.scale).reshape((-1,) + (1,) * (data.ndim - 1))
        assert np.allclose(codes, np.round(codes), atol=1e-3)
        assert np.abs(np.round(codes)).reshape(len(codes), -1).max(axis=1).tolist() == [127] * len(codes)
        b = g.quant[f"{layer}.bias"]
        s_in = g.quant[g[layer].inputs[0]].scale[0]
        assert b.dtype == "int32" and np.allclose(b.scale, s_in * np.asarray(w.scale), rtol=1e-12)


def test_narrow_weights_and_fixed_point_annotations(lenet):
    w4 = quantize_subject(lenet[2], QuantPlan(default="int8:w4")).graph
    w = w4.quant["features.3.weight"]
    codes = np.round(w4.params["features.3.weight"] / np.asarray(w.scale).reshape(-1, 1, 1, 1))
    assert codes.min() >= -7 and codes.max() <= 7 and np.abs(codes).max() == 7
    fx = quantize_subject(lenet[2], QuantPlan(default="fixed:Q2.6:sat")).graph
    assert {q.dtype for q in fx.quant.values()} == {"fixed"}
    assert fx.quant["classifier.0.weight"].fixed.ap_type() == "ap_fixed<8,2,AP_TRN,AP_SAT>"
    assert np.all(np.abs(fx.params["classifier.0.weight"] * 64 % 1) < 1e-6)


def test_calibration_errors_are_one_line(lenet):
    graph = lenet[2].graph(8)
    with pytest.raises(QuantizationError, match="calibration data is empty"):
        quantize_graph(graph, np.zeros((0, 1, 32, 32), np.float32))
    bad = lenet[2].split.x_train[:8].copy()
    bad[3, 0, 5, 5] = np.inf
    with pytest.raises(QuantizationError, match="calibration data contains NaN or Inf"):
        quantize_graph(graph, bad)
    with pytest.raises(QuantizationError, match="unknown layer.*did you mean features.3"):
        quantize_graph(graph, lenet[2].split.x_train[:8], QuantPlan(layers=(("features.33", "int16"),)))


class BnNet(nn.Module):
    """conv-BN-ReLU x2, residual add, global average pool, linear: exercises folding and add."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8)
        self.c2, self.b2 = nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.b1(self.c1(x)))
        y = torch.relu(self.b2(self.c2(y)) + y)
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1))


def test_bn_residual_model_int8_tracks_float():
    torch.manual_seed(0)
    model = BnNet().eval()
    with torch.no_grad():
        for bn in (model.b1, model.b2):
            bn.running_var.uniform_(0.5, 2.0)
            bn.running_mean.uniform_(-0.5, 0.5)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 8, 8)).astype(np.float32)
    graph = import_module(model, (16, 1, 8, 8))
    q = verify(quantize_graph(graph, x))
    assert "batch_norm" not in [n.op for n in q.nodes]
    assert q.quant["add"].scale != q.quant["c2"].scale  # add has its own output params
    test = rng.standard_normal((16, 1, 8, 8)).astype(np.float32)
    ref = model(torch.from_numpy(test)).detach().numpy()
    out = dequantize(q, q.outputs[0], Executor(q, "int").run(test)[0])
    assert np.abs(out - ref).max() < 0.05 * np.abs(ref).max()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.onnx: legacy exporter
def test_onnx_model_quantizes_through_the_ir(lenet, tmp_path):
    path = tmp_path / "lenet.onnx"
    torch.onnx.export(lenet[2].module, (torch.zeros(1, 1, 32, 32),), str(path), dynamo=False, opset_version=17,
                      input_names=["x"], dynamic_axes={"x": {0: "n"}})
    subject = load_subject(str(path), "digits")
    assert subject.module is None and subject.split.x_test.shape == (360, 1, 32, 32)
    r = quantize_subject(subject, QuantPlan())
    assert r.float_accuracy == lenet[1].accuracy
    assert abs(r.float_accuracy - r.quant_accuracy) <= 0.005
    with pytest.raises(QuantizationError, match="QAT needs a PyTorch model"):
        quantize_subject(subject, QuantPlan(), qat_epochs=1)


def test_norms_that_cannot_fold_keep_float_constants():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.BatchNorm1d(32), nn.Linear(32, 32), nn.LayerNorm(32),
                          nn.Linear(32, 4)).eval()
    with torch.no_grad():
        model[2].running_var.uniform_(0.5, 2.0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((128, 16)).astype(np.float32)
    q = verify(quantize_graph(import_module(model, (32, 16)), x))
    norm_consts = [i for n in q.nodes if n.op in ("batch_norm", "layer_norm") for i in n.inputs[1:]]
    assert len(norm_consts) == 6 and all(q.quant[c].dtype == "float32" for c in norm_consts)
    modes = Executor(q, "int").modes
    assert modes["2"] == modes["4"] == "float" and modes["0"] == "int"
    ref = model(torch.from_numpy(x[:32])).detach().numpy()
    out = dequantize(q, q.outputs[0], Executor(q, "int").run(x[:32])[0])
    assert np.abs(out - ref).max() < 0.05 * np.abs(ref).max()


class _Concats(nn.Module):
    """Two concats sharing an operand (DenseNet's growing lists) and a branch of another range."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        a = torch.relu(self.a(x))
        b = 10.0 * self.b(a)  # a much wider range than a's
        return torch.cat([a], 1) + torch.cat([a, b], 1)[:, :4]


def test_concat_inputs_and_output_share_params_covering_all_ranges():
    torch.manual_seed(0)
    graph = import_module(_Concats().eval(), (1, 3, 8, 8))
    calib = np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float32)
    q = quantize_graph(graph, calib)
    cats = [n for n in q.nodes if n.op == "concat"]
    members = {name for c in cats for name in (c.name, *c.inputs)}
    assert len(cats) == 2 and len({q.quant[m] for m in members}) == 1  # one set, joined through 'a'
    acts = [run_all(graph, calib[i:i + 1]) for i in range(4)]  # every tensor, every calibration input
    lo = min(float(a[m].min()) for a in acts for m in members)
    hi = max(float(a[m].max()) for a in acts for m in members)
    scale, zp = q.quant[cats[0].name].scale[0], q.quant[cats[0].name].zero_point[0]
    # zero-point rounding may cost up to one step at either end
    assert scale * (-128 - zp) <= min(lo, 0.0) + scale and scale * (127 - zp) >= hi - scale
    assert scale * 255 <= (hi - min(lo, 0.0)) * 1.01  # and no wider than the union
    adder = next(n for n in q.nodes if n.op == "add")
    assert q.quant[adder.name] != q.quant[cats[0].name]  # the add keeps its own range
