"""How each ONNX op becomes IR nodes (or folds to a constant). One function per op family."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from aics.ir import attrs as A
from aics.ir.onnx_import import OnnxImporter, Unavailable, _Const


def _axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def _all_const(imp: OnnxImporter) -> bool:
    return all(isinstance(imp.env[i], _Const) for i in imp.node.input if i)  # type: ignore[union-attr]


def _fold(fn: Callable[..., np.ndarray]) -> Callable[[OnnxImporter], _Const]:
    """Ops we only evaluate on constants (shape arithmetic); on tensors they are unsupported."""
    def rule(imp: OnnxImporter) -> _Const:
        if not _all_const(imp):
            raise imp.unsupported(imp.node.op_type)  # type: ignore[union-attr]
        return _Const(np.asarray(fn(*(imp.env[i].value for i in imp.node.input if i))), False)  # type: ignore[union-attr]
    return rule


def conv(imp: OnnxImporter) -> str:
    if imp.attr("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise imp.unsupported("Conv with auto_pad")
    p = list(imp.attr("pads", [0, 0, 0, 0]))
    attrs = A.Conv2dAttrs(tuple(imp.attr("strides", [1, 1])), (p[0], p[2], p[1], p[3]),
                          tuple(imp.attr("dilations", [1, 1])), imp.attr("group", 1))
    ins = [imp.value(0), imp.tensor(imp.value(1), True)] + ([imp.tensor(imp.value(2), True)] if imp.value(2) is not None else [])
    return imp.op("conv2d", ins, attrs)


def conv_transpose(imp: OnnxImporter) -> str:
    p = list(imp.attr("pads", [0, 0, 0, 0]))
    if p[0] != p[2] or p[1] != p[3] or imp.attr("output_shape") is not None:
        raise imp.unsupported("ConvTranspose with asymmetric pads or output_shape")
    attrs = A.ConvTranspose2dAttrs(tuple(imp.attr("strides", [1, 1])), (p[0], p[1]),
                                   tuple(imp.attr("output_padding", [0, 0])), tuple(imp.attr("dilations", [1, 1])),
                                   imp.attr("group", 1))
    ins = [imp.value(0), imp.tensor(imp.value(1), True)] + ([imp.tensor(imp.value(2), True)] if imp.value(2) is not None else [])
    return imp.op("conv_transpose2d", ins, attrs)


def gemm(imp: OnnxImporter) -> str:
    if imp.attr("transA", 0) or imp.attr("alpha", 1.0) != 1.0 or imp.attr("beta", 1.0) != 1.0:
        raise imp.unsupported("Gemm with transA/alpha/beta")
    w = imp.const_value(1, "weight")
    w = w if imp.attr("transB", 0) else w.T
    ins = [imp.value(0), imp.tensor(_Const(np.ascontiguousarray(w), True), True)]
    if imp.value(2) is not None:
        ins.append(imp.tensor(imp.value(2), True))
    return imp.op("linear", ins)


def matmul(imp: OnnxImporter) -> Any:
    a, b = imp.value(0), imp.value(1)
    if isinstance(a, _Const) and isinstance(b, _Const):
        return _Const(a.value @ b.value, False)
    if isinstance(b, _Const) and b.value.ndim == 2:  # x @ W (+ bias): a linear layer
        ins = [a, imp.tensor(_Const(np.ascontiguousarray(b.value.T), b.initializer), True)]
        bias = _bias_add(imp, b.value.shape[1])
        return imp.op("linear", ins + ([imp.tensor(bias, True)] if bias is not None else []))
    return imp.op("matmul", [a, b])


def _bias_add(imp: OnnxImporter, features: int) -> _Const | None:
    """The bias of ``MatMul -> Add(bias)`` (how PyTorch exports a Linear on 3-D input); the Add is
    then absorbed. Only when the MatMul's sole consumer is that Add."""
    users = imp.consumers.get(imp.node.output[0], [])  # type: ignore[union-attr]
    if len(users) != 1 or users[0].op_type != "Add":
        return None
    other = [imp.env.get(i) for i in users[0].input if i != imp.node.output[0]]  # type: ignore[union-attr]
    if len(other) == 1 and isinstance(other[0], _Const) and other[0].initializer and other[0].value.shape == (features,):
        imp.absorbed.add(id(users[0]))
        return other[0]
    return None


def binary(op: str, fn: Callable[[Any, Any], Any]) -> Callable[[OnnxImporter], Any]:
    def rule(imp: OnnxImporter) -> Any:
        if id(imp.node) in imp.absorbed:  # the bias add already inside the linear before it
            return next(v for v in (imp.value(0), imp.value(1)) if not isinstance(v, _Const))
        if _all_const(imp):
            return _Const(np.asarray(fn(imp.value(0).value, imp.value(1).value)), False)
        return imp.op(op, [imp.value(0), imp.value(1)])
    return rule


def unary(op: str, attrs: Callable[[OnnxImporter], Any] | None = None) -> Callable[[OnnxImporter], str]:
    return lambda imp: imp.op(op, [imp.value(0)], attrs(imp) if attrs else None)


def clip(imp: OnnxImporter) -> str:
    lo = imp.value(1).value.item() if imp.value(1) is not None else imp.attr("min", -math.inf)
    hi = imp.value(2).value.item() if imp.value(2) is not None else imp.attr("max", math.inf)
    if lo == 0 and hi == 6:
        return imp.op("relu6", [imp.value(0)])
    if lo == 0 and hi == math.inf:
        return imp.op("relu", [imp.value(0)])
    return imp.op("clip", [imp.value(0)], A.ClipAttrs(float(lo), float(hi)))


def batch_norm(imp: OnnxImporter) -> str:
    ins = [imp.value(0), imp.tensor(imp.value(1), True), imp.tensor(imp.value(2), True),
           imp.tensor(imp.value(3), False), imp.tensor(imp.value(4), False)]
    return imp.op("batch_norm", ins, A.NormAttrs(imp.attr("epsilon", 1e-5)))


def layer_norm(imp: OnnxImporter) -> str:
    rank = len(imp.shape(imp.value(0)))
    axes = rank - _axis(imp.attr("axis", -1), rank)
    ins = [imp.value(0)] + [imp.tensor(imp.value(i), True) for i in (1, 2) if imp.value(i) is not None]
    return imp.op("layer_norm", ins, A.NormAttrs(imp.attr("epsilon", 1e-5), axes))


def pool(op: str) -> Callable[[OnnxImporter], str]:
    def rule(imp: OnnxImporter) -> str:
        p = list(imp.attr("pads", [0, 0, 0, 0]))
        k = tuple(imp.attr("kernel_shape"))
        attrs = A.Pool2dAttrs(k, tuple(imp.attr("strides", k)), (p[0], p[2], p[1], p[3]),
                              tuple(imp.attr("dilations", [1, 1])), bool(imp.attr("ceil_mode", 0)),
                              bool(imp.attr("count_include_pad", 0)) if op == "avg_pool2d" else True)
        return imp.op(op, [imp.value(0)], attrs)
    return rule


def global_avg_pool(imp: OnnxImporter) -> str:
    return imp.op("adaptive_avg_pool2d", [imp.value(0)], A.AdaptivePoolAttrs((1, 1)))


def softmax(imp: OnnxImporter) -> str:
    rank = len(imp.shape(imp.value(0)))
    return imp.op("softmax", [imp.value(0)], A.AxisAttrs(_axis(imp.attr("axis", -1), rank)))


def concat(imp: OnnxImporter) -> Any:
    axis = imp.attr("axis")
    if _all_const(imp):
        return _Const(np.concatenate([imp.env[i].value for i in imp.node.input], axis=axis), False)  # type: ignore
    vals = [imp.env[i] for i in imp.node.input]  # type: ignore[union-attr]
    return imp.op("concat", vals, A.AxisAttrs(_axis(axis, len(imp.shape(vals[0])))))


def _slices(imp: OnnxImporter, x: Any, axis: int, sizes: list[int]) -> list[str]:
    out, start = [], 0
    for k, size in enumerate(sizes):
        out.append(imp.op("slice", [x], A.SliceAttrs(axis, start, start + size, 1), f".{k}"))
        start += size
    return out


def split(imp: OnnxImporter) -> list[Any]:
    x = imp.value(0)
    rank = len(imp.shape(x))
    axis = _axis(imp.attr("axis", 0), rank)
    n_out = len(imp.node.output)  # type: ignore[union-attr]
    if imp.value(1) is not None:
        sizes = [int(s) for s in imp.const_value(1, "split")]
    elif imp.attr("split") is not None:
        sizes = list(imp.attr("split"))
    else:
        size = imp.shape(x)[axis]
        sizes = [math.ceil(size / n_out)] * (n_out - 1)
        sizes.append(size - sum(sizes))
    return _slices(imp, x, axis, sizes)


def slice_(imp: OnnxImporter) -> Any:
    x = imp.value(0)
    starts, ends = imp.const_value(1, "starts"), imp.const_value(2, "ends")
    rank = len(imp.shape(x))
    axes = imp.const_value(3, "axes") if imp.value(3) is not None else np.arange(len(starts))
    steps = imp.const_value(4, "steps") if imp.value(4) is not None else np.ones(len(starts), dtype=np.int64)
    if isinstance(x, _Const):
        index = [slice(None)] * rank
        for s, e, a, st in zip(starts, ends, axes, steps):
            index[_axis(int(a), rank)] = slice(int(s), int(e), int(st))
        return _Const(x.value[tuple(index)], False)
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = _axis(int(a), rank)
        start, stop, step = slice(int(s), int(e), int(st)).indices(imp.shape(x)[a])
        if (start, stop, step) != (0, imp.shape(x)[a], 1):
            x = imp.op("slice", [x], A.SliceAttrs(a, start, stop, step), f".a{a}")
    return x


def _reshape_to(imp: OnnxImporter, x: Any, shape: tuple[int, ...]) -> Any:
    if isinstance(x, _Const):
        return _Const(x.value.reshape(shape), x.initializer)
    return x if imp.shape(x) == shape else imp.op("reshape", [x], A.ShapeAttrs(shape))


def reshape(imp: OnnxImporter) -> Any:
    x = imp.value(0)
    src = imp.shape(x)
    target = [int(src[i]) if int(d) == 0 else int(d) for i, d in enumerate(imp.const_value(1, "shape"))]
    if -1 in target:
        known = math.prod(d for d in target if d != -1)
        target[target.index(-1)] = math.prod(src) // known
    return _reshape_to(imp, x, tuple(target))


def flatten(imp: OnnxImporter) -> Any:
    x = imp.value(0)
    s = imp.shape(x)
    axis = _axis(imp.attr("axis", 1), len(s))
    return _reshape_to(imp, x, (math.prod(s[:axis]), math.prod(s[axis:])))


def _axes_arg(imp: OnnxImporter) -> list[int] | None:
    if imp.value(1) is not None:
        return [int(a) for a in imp.const_value(1, "axes")]
    axes = imp.attr("axes")
    return None if axes is None else list(axes)


def squeeze(imp: OnnxImporter) -> Any:
    x = imp.value(0)
    s = imp.shape(x)
    axes = _axes_arg(imp)
    drop = {_axis(a, len(s)) for a in axes} if axes is not None else {i for i, d in enumerate(s) if d == 1}
    return _reshape_to(imp, x, tuple(d for i, d in enumerate(s) if i not in drop))


def unsqueeze(imp: OnnxImporter) -> Any:
    x = imp.value(0)
    s = list(imp.shape(x))
    axes = _axes_arg(imp) or []
    rank = len(s) + len(axes)
    for a in sorted(_axis(a, rank) for a in axes):
        s.insert(a, 1)
    return _reshape_to(imp, x, tuple(s))


def transpose(imp: OnnxImporter) -> Any:
    x = imp.value(0)
    perm = tuple(imp.attr("perm", list(reversed(range(len(imp.shape(x)))))))
    if isinstance(x, _Const):
        return _Const(np.transpose(x.value, perm), x.initializer)
    return imp.op("permute", [x], A.PermuteAttrs(perm))


def pad(imp: OnnxImporter) -> str:
    x = imp.value(0)
    rank = len(imp.shape(x))
    p = [int(v) for v in (imp.const_value(1, "pads") if imp.value(1) is not None else imp.attr("pads"))]
    value = float(imp.const_value(2, "value")) if imp.value(2) is not None else 0.0
    mode = imp.attr("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    full = tuple(v for i in range(rank) for v in (p[i], p[rank + i]))
    return imp.op("pad", [x], A.PadAttrs(full, mode, value))


def resize(imp: OnnxImporter) -> str:
    x = imp.value(0)
    h, w = imp.shape(x)[2:]
    sizes = imp.value(3)
    if sizes is not None:
        out = tuple(int(v) for v in sizes.value[2:])
    else:
        scales = imp.const_value(2, "scales")
        out = (int(math.floor(h * scales[2])), int(math.floor(w * scales[3])))
    mode = imp.attr("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    return imp.op("resize", [x], A.ResizeAttrs(out, "bilinear" if mode == "linear" else "nearest"))


def gather(imp: OnnxImporter) -> Any:
    data, idx = imp.value(0), imp.value(1)
    axis = imp.attr("axis", 0)
    if isinstance(data, _Const) and axis == 0 and data.initializer:  # a table lookup: embedding
        return imp.op("embedding", [imp.tensor(idx, False), imp.tensor(data, True)])
    if isinstance(data, _Const) and isinstance(idx, _Const):
        return _Const(np.take(data.value, idx.value, axis=axis), False)
    if isinstance(idx, _Const) and idx.value.ndim == 0:  # x[:, k]: slice, then drop the axis
        s = imp.shape(data)
        a, k = _axis(axis, len(s)), int(idx.value)
        k = k + s[a] if k < 0 else k
        sliced = imp.op("slice", [data], A.SliceAttrs(a, k, k + 1, 1), ".slice")
        return imp.op("reshape", [sliced], A.ShapeAttrs(s[:a] + s[a + 1:]))
    raise imp.unsupported("Gather with computed indices")


def reduce_mean(imp: OnnxImporter) -> str:
    x = imp.value(0)
    rank = len(imp.shape(x))
    axes = _axes_arg(imp)
    axes = list(range(rank)) if axes is None else [_axis(a, rank) for a in axes]
    return imp.op("mean", [x], A.ReduceAttrs(tuple(sorted(axes)), bool(imp.attr("keepdims", 1))))


def expand(imp: OnnxImporter) -> Any:
    x = imp.value(0)
    target = tuple(int(d) for d in imp.const_value(1, "shape"))
    s = imp.shape(x)
    rank = max(len(s), len(target))
    s_full, t_full = (1,) * (rank - len(s)) + s, (1,) * (rank - len(target)) + target
    out = tuple(max(a, b) for a, b in zip(s_full, t_full))
    if isinstance(x, _Const) and not x.initializer:  # parameters (a class token) stay parameters
        return _Const(np.broadcast_to(x.value, out).copy(), False)
    x = _reshape_to(imp, x, s_full)
    return imp.op("expand", [x], A.ShapeAttrs(out))


def shape(imp: OnnxImporter) -> _Const:
    return _Const(np.array(imp.shape(imp.value(0)), dtype=np.int64), False)


def constant(imp: OnnxImporter) -> _Const:
    from onnx import numpy_helper

    return _Const(numpy_helper.to_array(imp.attr("value")), False)


def cast(imp: OnnxImporter) -> Any:
    x = imp.value(0)
    if isinstance(x, _Const):
        from onnx import helper

        return _Const(x.value.astype(helper.tensor_dtype_to_np_dtype(imp.attr("to"))), x.initializer)
    return x


def identity(imp: OnnxImporter) -> Any:
    return imp.value(0)


def lrn(imp: OnnxImporter) -> str:
    return imp.op("local_response_norm", [imp.value(0)],
                  A.LrnAttrs(imp.attr("size"), imp.attr("alpha", 1e-4), imp.attr("beta", 0.75), imp.attr("bias", 1.0)))


def prelu(imp: OnnxImporter) -> str:
    slope = imp.value(1)
    return imp.op("prelu", [imp.value(0), imp.tensor(_Const(slope.value.reshape(-1), True), True)])


def rnn(op: str, torch_gate_order: list[int]) -> Callable[[OnnxImporter], list[Any]]:
    """ONNX LSTM/GRU (one layer, seq-first) -> our batch-first op with PyTorch's gate order."""
    def rule(imp: OnnxImporter) -> list[Any]:
        n_in = len(imp.node.input)  # type: ignore[union-attr]
        extra = [imp.value(i) for i in range(4, n_in)]
        zero_state = all(v is None or (isinstance(v, _Const) and not v.value.any()) for v in extra)
        if not zero_state or imp.attr("layout", 0):
            raise imp.unsupported(f"{imp.node.op_type} with initial state, sequence lengths or layout=1")  # type: ignore[union-attr]
        if op == "gru" and not imp.attr("linear_before_reset", 0):
            raise imp.unsupported("GRU with linear_before_reset=0 (PyTorch's GRU needs 1)")
        h = imp.attr("hidden_size")
        dirs = 2 if _str(imp.attr("direction", "forward")) == "bidirectional" else 1
        gates = len(torch_gate_order)

        def reorder(a: np.ndarray) -> np.ndarray:
            return np.concatenate([a[g * h:(g + 1) * h] for g in torch_gate_order])

        w, r = imp.const_value(1, "W"), imp.const_value(2, "R")
        b = imp.const_value(3, "B") if imp.value(3) is not None else None
        weights = []
        for d in range(dirs):
            parts = [w[d], r[d]] + ([b[d][:gates * h], b[d][gates * h:]] if b is not None else [])
            weights += [imp.tensor(_Const(np.ascontiguousarray(reorder(p)), True), True) for p in parts]
        x = imp.op("permute", [imp.value(0)], A.PermuteAttrs((1, 0, 2)), ".batch_first")
        out = imp.op(op, [x, *weights], A.RnnAttrs(h, 1, dirs == 2, b is not None))
        n, t = imp.shape(out)[:2]
        split = imp.op("reshape", [out], A.ShapeAttrs((n, t, dirs, h)), ".dirs")
        y = imp.op("permute", [split], A.PermuteAttrs((1, 2, 0, 3)), ".seq_first")
        return [y, Unavailable(f"{imp.node.op_type} final state"), Unavailable(f"{imp.node.op_type} final cell")]  # type: ignore[union-attr]
    return rule


RULES: dict[str, Callable[[OnnxImporter], Any]] = {
    "Conv": conv, "ConvTranspose": conv_transpose, "Gemm": gemm, "MatMul": matmul,
    "Add": binary("add", np.add), "Sub": binary("sub", np.subtract), "Mul": binary("mul", np.multiply),
    "Div": binary("div", lambda a, b: a // b if a.dtype.kind == "i" else a / b),
    "Relu": unary("relu"), "Sigmoid": unary("sigmoid"), "Tanh": unary("tanh"), "Erf": unary("erf"),
    "HardSwish": unary("hardswish"), "Clip": clip,
    "LeakyRelu": unary("leaky_relu", lambda imp: A.SlopeAttrs(imp.attr("alpha", 0.01))),
    "Elu": unary("elu", lambda imp: A.SlopeAttrs(imp.attr("alpha", 1.0))),
    "Gelu": unary("gelu", lambda imp: A.GeluAttrs(_str(imp.attr("approximate", "none")))),
    "PRelu": prelu, "Softmax": softmax,
    "BatchNormalization": batch_norm, "LayerNormalization": layer_norm, "LRN": lrn,
    "MaxPool": pool("max_pool2d"), "AveragePool": pool("avg_pool2d"), "GlobalAveragePool": global_avg_pool,
    "Concat": concat, "Split": split, "Slice": slice_, "Reshape": reshape, "Flatten": flatten,
    "Squeeze": squeeze, "Unsqueeze": unsqueeze, "Transpose": transpose, "Pad": pad, "Resize": resize,
    "Gather": gather, "ReduceMean": reduce_mean, "Expand": expand, "Shape": shape, "Constant": constant,
    "LSTM": rnn("lstm", [0, 2, 3, 1]), "GRU": rnn("gru", [1, 0, 2]),
    "Cast": cast, "Identity": identity, "Dropout": identity,
    "Sqrt": _fold(np.sqrt), "Equal": _fold(np.equal), "Where": _fold(np.where),
    "ConstantOfShape": lambda imp: _Const(np.full(tuple(imp.const_value(0, "shape")),
                                                  numpy_helper_value(imp)), False),
}


def _str(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def numpy_helper_value(imp: OnnxImporter) -> Any:
    from onnx import numpy_helper

    t = imp.attr("value")
    return 0.0 if t is None else numpy_helper.to_array(t).reshape(-1)[0]
