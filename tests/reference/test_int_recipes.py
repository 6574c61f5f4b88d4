"""The integer recipes, checked against hand computations and against the ``aics.numerics``
kernels that the DLP's instructions execute (so the simulator can be bit-identical)."""

from __future__ import annotations

import numpy as np
import pytest

from aics.ir import attrs as A
from aics.ir.graph import Graph, GraphBuilder
from aics.ir.quant import QuantParams
from aics.numerics import kernels, quantize_multipliers, requantize, round_half_away
from aics.numerics.int_softmax import exp_table, softmax_q15
from aics.numerics.lut import Affine, build_lut
from aics.reference import Executor, bias_codes, quantized_consts, run
from aics.reference.qtensor import QuantView


def i8(scale: float, zp: int = 0) -> QuantParams:
    return QuantParams("int8", (scale,), (zp,))


def single_op(op: str, attrs: object, in_shapes: list[tuple[int, ...]], quant: dict[str, QuantParams],
              consts: dict[str, np.ndarray] | None = None) -> Graph:
    """x0, x1, ... inputs (then consts, in order) -> one ``op`` node named 'y'."""
    b = GraphBuilder("t")
    names = [b.input(f"x{i}", s) for i, s in enumerate(in_shapes)]
    names += [b.const(k, v.shape, data=v) for k, v in (consts or {}).items()]
    b.op(op, names, attrs, "y")
    graph = b.build(["y"])
    return graph.with_nodes(graph.nodes, quant=quant)


ALL_CODES = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)


def test_relu_with_equal_params_is_max_q_zp() -> None:
    qp = i8(0.1, 5)
    g = single_op("relu", A.NoAttrs(), [(1, 256)], {"x0": qp, "y": qp})
    (y,) = run(g, ALL_CODES, "int")
    np.testing.assert_array_equal(y, np.maximum(ALL_CODES, 5))
    assert y.dtype == np.int8


def test_relu6_clamps_at_quantized_six() -> None:
    qp = i8(0.05, -100)
    g = single_op("relu6", A.NoAttrs(), [(1, 256)], {"x0": qp, "y": qp})
    (y,) = run(g, ALL_CODES, "int")
    np.testing.assert_array_equal(y, np.clip(ALL_CODES, -100, -100 + 120))


def test_add_is_tflite_add() -> None:
    """Scales that are powers of two make every multiplier exact, so TFLite ADD must give the
    correctly rounded (ties toward +infinity, single rounding) real sum for every pair of codes."""
    qa, qb, qo = i8(0.5, 3), i8(0.25, -7), i8(1.0, 10)
    g = single_op("add", A.NoAttrs(), [(256, 1), (1, 256)], {"x0": qa, "x1": qb, "y": qo})
    a, b = ALL_CODES.reshape(256, 1), ALL_CODES
    (y,) = run(g, {"x0": a, "x1": b}, "int")
    real = 0.5 * (a.astype(float) - 3) + 0.25 * (b.astype(float) + 7)
    np.testing.assert_array_equal(y, np.clip(np.floor(real + 0.5) + 10, -128, 127))


def test_add_with_arbitrary_scales_within_one_lsb() -> None:
    qa, qb, qo = i8(0.0173, 3), i8(0.0411, -20), i8(0.05, 9)
    g = single_op("sub", A.NoAttrs(), [(256, 1), (1, 256)], {"x0": qa, "x1": qb, "y": qo})
    a, b = ALL_CODES.reshape(256, 1), ALL_CODES
    (y,) = run(g, {"x0": a, "x1": b}, "int")
    real = 0.0173 * (a.astype(float) - 3) - 0.0411 * (b.astype(float) + 20)
    exact = np.clip(real / 0.05 + 9, -128, 127)
    assert np.abs(y - exact).max() <= 0.5 + 1e-3


def test_mul_is_one_requantization_of_the_product() -> None:
    """The centred product, rescaled once with a pre-shifted multiplier: the real product rounded
    to nearest (no ties here: s_a s_b / s_out = 1/15)."""
    qa, qb, qo = i8(0.1, 1), i8(0.2, -2), i8(0.3, 4)
    g = single_op("mul", A.NoAttrs(), [(256, 1), (1, 256)], {"x0": qa, "x1": qb, "y": qo})
    a, b = ALL_CODES.reshape(256, 1), ALL_CODES
    (y,) = run(g, {"x0": a, "x1": b}, "int")
    prod = (a.astype(np.int64) - 1) * (b.astype(np.int64) + 2)
    np.testing.assert_array_equal(y, np.clip(round_half_away(prod / 15) + 4, -128, 127))


def test_conv_is_kernels_conv2d_then_requantize() -> None:
    """The integer conv equals the DLP's ``kernels.conv2d`` (zero point as ``a_offset``, padding
    with it) followed by ``requantize`` with per-channel multipliers and the int32 bias."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 2, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(6).astype(np.float32)
    attrs = A.Conv2dAttrs(stride=(2, 1), padding=(1, 0, 2, 1), dilation=(1, 2), groups=2)
    w_scales = tuple(float(np.float32(s)) for s in np.abs(w).reshape(6, -1).max(axis=1) / 127)
    quant = {"x0": i8(0.03, -9), "w": QuantParams("int8", w_scales, (0,) * 6, axis=0), "y": i8(0.07, 12)}
    g = single_op("conv2d", attrs, [(1, 4, 9, 10)], quant, {"w": w, "b": bias})
    x = rng.integers(-128, 128, (1, 4, 9, 10)).astype(np.int8)
    (y,) = run(g, x, "int")
    view = QuantView(g)
    wq = quantized_consts(g)["w"]
    np.testing.assert_array_equal(wq, np.clip(round_half_away(w / np.array(w_scales)[:, None, None, None]), -127, 127))
    acc = kernels.conv2d(x[0], wq, "int8", attrs.stride, attrs.dilation, attrs.padding, attrs.groups, a_offset=-9)
    bq = bias_codes(g["y"], view)
    np.testing.assert_array_equal(bq, round_half_away(bias / (0.03 * np.array(w_scales))))
    mult, shift = quantize_multipliers(0.03 * np.array(w_scales) / 0.07)
    expected = requantize(acc, mult[:, None, None], shift[:, None, None], 12, bq[:, None, None], -128, 127)
    np.testing.assert_array_equal(y[0], expected)


def test_linear_is_kernels_matmul_then_requantize() -> None:
    rng = np.random.default_rng(1)
    w = rng.standard_normal((5, 7)).astype(np.float32)
    quant = {"x0": i8(0.02, 3), "w": QuantParams("int8", (0.01,), (0,)), "y": i8(0.1, -4)}
    g = single_op("linear", A.NoAttrs(), [(3, 7)], quant, {"w": w})
    x = rng.integers(-128, 128, (3, 7)).astype(np.int8)
    (y,) = run(g, x, "int")
    wq = quantized_consts(g)["w"]
    acc = kernels.matmul(x, wq.T, "int8", a_offset=3)
    mult, shift = quantize_multipliers(np.array([0.02 * 0.01 / 0.1]))
    np.testing.assert_array_equal(y, requantize(acc, mult[0], shift[0], -4, qmin=-128, qmax=127))


def test_avg_pool_rounds_half_away_from_zero() -> None:
    """Equal params: raw-code sums / count, ties away from zero (TFLite AVERAGE_POOL_2D); other
    output params: the centred sum requantized once, ties toward +infinity in the real value."""
    qp = i8(0.5, 10)
    x = np.array([[[[11, 12, 8, 7, 10, 11, 9, 10]]]], dtype=np.int8)  # raw pair sums 23, 15, 21, 19
    g = single_op("avg_pool2d", A.Pool2dAttrs((1, 2), (1, 2)), [(1, 1, 1, 8)], {"x0": qp, "y": qp})
    assert run(g, x, "int")[0].ravel().tolist() == [12, 8, 11, 10]
    g = single_op("avg_pool2d", A.Pool2dAttrs((1, 2), (1, 2)), [(1, 1, 1, 8)], {"x0": qp, "y": i8(0.5, 0)})
    assert run(g, x, "int")[0].ravel().tolist() == [2, -2, 1, 0]  # centred 1.5, -2.5, 0.5, -0.5


def test_max_pool_on_codes_and_pad_never_wins() -> None:
    qp = i8(1.0, 0)
    g = single_op("max_pool2d", A.Pool2dAttrs((2, 2), (2, 2), padding=(1, 0, 1, 0)), [(1, 1, 3, 3)],
                  {"x0": qp, "y": qp})
    x = np.full((1, 1, 3, 3), -128, dtype=np.int8)
    x[0, 0, 2, 2] = -5
    (y,) = run(g, x, "int")
    np.testing.assert_array_equal(y[0, 0], [[-128, -128], [-128, -5]])


def test_softmax_recipe() -> None:
    out = i8(1 / 256, -128)
    g = single_op("softmax", A.AxisAttrs(1), [(2, 4)], {"x0": i8(0.1, 0), "y": out})
    x = np.array([[5, 5, 5, 5], [40, 0, -128, 127]], dtype=np.int8)
    (y,) = run(g, x, "int")
    assert list(y[0]) == [-128 + 64] * 4  # 1/4 = 64/256 exactly
    p = softmax_q15(x, exp_table(0.1, 256), axis=1)
    assert p[0].tolist() == [8192] * 4
    real = np.exp(0.1 * x[1].astype(float) - 12.7)
    assert np.abs((y[1].astype(float) + 128) / 256 - real / real.sum()).max() <= 1 / 256


def test_lut_is_built_from_the_float_function() -> None:
    r_in, r_out = Affine(0.05, 3, "int8"), Affine(1 / 256, -128, "int8")
    table = build_lut(lambda v: 1 / (1 + np.exp(-v)), r_in, r_out)
    q = np.arange(-128, 128)
    expected = np.clip(round_half_away(1 / (1 + np.exp(-0.05 * (q - 3))) * 256) - 128, -128, 127)
    np.testing.assert_array_equal(table, expected)
    g = single_op("sigmoid", A.NoAttrs(), [(1, 256)], {"x0": i8(0.05, 3), "y": i8(1 / 256, -128)})
    np.testing.assert_array_equal(run(g, ALL_CODES, "int")[0][0], table)


def test_concat_requantizes_inputs_with_other_params() -> None:
    qa, qb = i8(0.1, 0), i8(0.2, 5)
    g = single_op("concat", A.AxisAttrs(1), [(1, 3), (1, 3)], {"x0": qa, "x1": qb, "y": qa})
    a = np.array([[1, -2, 3]], dtype=np.int8)
    b = np.array([[5, 6, -60]], dtype=np.int8)
    (y,) = run(g, {"x0": a, "x1": b}, "int")
    np.testing.assert_array_equal(y, [[1, -2, 3, 0, 2, -128]])  # (b-5)*2, saturated


def test_inherited_params_for_data_movement() -> None:
    qp = i8(0.1, 2)
    g = single_op("reshape", A.ShapeAttrs((6,)), [(2, 3)], {"x0": qp})
    x = np.arange(6, dtype=np.int8).reshape(2, 3)
    (y,) = run(g, x, "int")
    np.testing.assert_array_equal(y, x.ravel())


@pytest.mark.parametrize("x_scale", [0.25, 2.0])
def test_float_inputs_are_quantized_half_to_even(x_scale: float) -> None:
    qp = i8(x_scale, 1)
    g = single_op("reshape", A.ShapeAttrs((4,)), [(4,)], {"x0": qp, "y": qp})
    x = np.array([0.5, 1.5, -2.5, 1e6], dtype=np.float32) * x_scale
    (y,) = Executor(g, "int").run(x)
    np.testing.assert_array_equal(y, [1, 3, -1, 127])


@pytest.mark.parametrize("attrs", [
    A.Pool2dAttrs((3, 3), (2, 2), padding=(1, 1, 1, 1), count_include_pad=True),
    A.Pool2dAttrs((3, 3), (2, 2), padding=(1, 1, 1, 1), count_include_pad=False),
    A.Pool2dAttrs((2, 2), (2, 2)),
])
def test_avg_pool_with_equal_params_is_kernels_pool2d(attrs: A.Pool2dAttrs) -> None:
    """TFLite AVERAGE_POOL_2D: the DLP's pool instruction, padding with the zero point when counted."""
    qp = i8(0.05, -7)
    g = single_op("avg_pool2d", attrs, [(1, 3, 9, 10)], {"x0": qp, "y": qp})
    x = np.random.default_rng(2).integers(-128, 128, (1, 3, 9, 10)).astype(np.int8)
    (y,) = run(g, x, "int")
    expected = kernels.pool2d(x[0], "avg", attrs.kernel, attrs.stride, attrs.padding, "int8",
                              count_pad=attrs.count_include_pad, pad_value=-7)
    np.testing.assert_array_equal(y[0], expected)
