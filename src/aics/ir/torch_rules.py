"""How each torch module, function and tensor method becomes IR nodes.

``MODULE_RULES`` maps nn module types (traced as leaves) to functions; ``FUNCTION_RULES`` and
``METHOD_RULES`` map fx call targets. Arguments arrive already resolved: tensors as ``Tensor``
names, sizes as Python ints. Shape-only arithmetic (``x.size(0) * 2``) stays in Python.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Callable

import torch
import torch.nn.functional as F

from aics.ir import attrs as A
from aics.ir.torch_import import Importer, RnnResult, Tensor


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def norm_axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def binary(imp: Importer, op: str, a: Any, b: Any) -> Any:
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        return {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}[op](a, b)
    return imp.op(op, [imp.tensor(a), imp.tensor(b)])


def reshape(imp: Importer, x: Tensor, *shape: Any) -> Tensor:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    numel = math.prod(imp.shape(x))
    dims = [int(d) for d in shape]
    if -1 in dims:
        known = math.prod(d for d in dims if d != -1)
        dims[dims.index(-1)] = numel // known if known else 0
    return imp.op("reshape", [x], A.ShapeAttrs(tuple(dims)))


def flatten(imp: Importer, x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    s = imp.shape(x)
    a, b = norm_axis(start_dim, len(s)), norm_axis(end_dim, len(s))
    return imp.op("reshape", [x], A.ShapeAttrs((*s[:a], math.prod(s[a:b + 1]), *s[b + 1:])))


def permute(imp: Importer, x: Tensor, *perm: Any) -> Tensor:
    if len(perm) == 1 and isinstance(perm[0], (tuple, list)):
        perm = tuple(perm[0])
    rank = len(imp.shape(x))
    return imp.op("permute", [x], A.PermuteAttrs(tuple(norm_axis(int(p), rank) for p in perm)))


def transpose(imp: Importer, x: Tensor, d0: int, d1: int) -> Tensor:
    rank = len(imp.shape(x))
    perm = list(range(rank))
    a, b = norm_axis(d0, rank), norm_axis(d1, rank)
    perm[a], perm[b] = perm[b], perm[a]
    return imp.op("permute", [x], A.PermuteAttrs(tuple(perm)))


def slice_axis(imp: Importer, x: Tensor, axis: int, start: int, end: int, step: int = 1, suffix: str = "") -> Tensor:
    return imp.op("slice", [x], A.SliceAttrs(axis, start, end, step), suffix)


def split(imp: Importer, x: Tensor, sizes: Any, dim: int = 0) -> list[Tensor]:
    s = imp.shape(x)
    axis = norm_axis(dim, len(s))
    if isinstance(sizes, int):
        sizes = [min(sizes, s[axis] - i) for i in range(0, s[axis], sizes)]
    out, start = [], 0
    for k, size in enumerate(sizes):
        out.append(slice_axis(imp, x, axis, start, start + size, 1, f".{k}"))
        start += size
    return out


def chunk(imp: Importer, x: Tensor, chunks: int, dim: int = 0) -> list[Tensor]:
    size = imp.shape(x)[norm_axis(dim, len(imp.shape(x)))]
    return split(imp, x, math.ceil(size / chunks), dim)


def index(imp: Importer, x: Any, idx: Any) -> Any:
    """``x[idx]``: Python containers index directly; tensors become slice + reshape nodes."""
    if isinstance(x, RnnResult):
        return x[idx]
    if not isinstance(x, Tensor):
        return x[idx]
    idx = idx if isinstance(idx, tuple) else (idx,)
    shape = list(imp.shape(x))
    if Ellipsis in idx:
        i = idx.index(Ellipsis)
        fill = len(shape) - (len(idx) - 1 - sum(1 for v in idx if v is None))
        idx = idx[:i] + (slice(None),) * fill + idx[i + 1:]
    out, axis, new_shape = x, 0, []
    for item in idx:
        if item is None:
            new_shape.append(1)
            continue
        size = shape[axis]
        if isinstance(item, int):
            i = item + size if item < 0 else item
            out = slice_axis(imp, out, axis, i, i + 1, 1, f".i{axis}")
        elif isinstance(item, slice):
            start, stop, step = item.indices(size)
            if (start, stop, step) != (0, size, 1):
                out = slice_axis(imp, out, axis, start, stop, step, f".s{axis}")
            new_shape.append(len(range(start, stop, step)))
        else:
            raise imp.unsupported(f"tensor indexing with {type(item).__name__}")
        axis += 1
    new_shape += shape[axis:]
    return reshape(imp, out, tuple(new_shape)) if tuple(new_shape) != imp.shape(out) else out


def unsqueeze(imp: Importer, x: Tensor, dim: int) -> Tensor:
    s = list(imp.shape(x))
    s.insert(norm_axis(dim, len(s) + 1), 1)
    return reshape(imp, x, tuple(s))


def squeeze(imp: Importer, x: Tensor, dim: int | None = None) -> Tensor:
    s = imp.shape(x)
    if dim is None:
        return reshape(imp, x, tuple(d for d in s if d != 1))
    a = norm_axis(dim, len(s))
    return reshape(imp, x, s[:a] + s[a + 1:]) if s[a] == 1 else x


def expand(imp: Importer, x: Tensor, *shape: Any) -> Tensor:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    s = imp.shape(x)
    full = tuple(s[i - (len(shape) - len(s))] if int(d) == -1 else int(d) for i, d in enumerate(shape))
    return imp.op("expand", [x], A.ShapeAttrs(full))


def concat(imp: Importer, tensors: Any, dim: int = 0) -> Tensor:
    ts = [imp.tensor(t) for t in tensors]
    return imp.op("concat", ts, A.AxisAttrs(norm_axis(dim, len(imp.shape(ts[0])))))


def stack(imp: Importer, tensors: Any, dim: int = 0) -> Tensor:
    return concat(imp, [unsqueeze(imp, t, dim) for t in tensors], dim)


def mean(imp: Importer, x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    rank = len(imp.shape(x))
    axes = tuple(range(rank)) if dim is None else (dim,) if isinstance(dim, int) else tuple(dim)
    return imp.op("mean", [x], A.ReduceAttrs(tuple(sorted(norm_axis(a, rank) for a in axes)), keepdim))


def softmax(imp: Importer, x: Tensor, dim: int = -1, **_: Any) -> Tensor:
    return imp.op("softmax", [x], A.AxisAttrs(norm_axis(dim, len(imp.shape(x)))))


def size(imp: Importer, x: Tensor, dim: int | None = None) -> Any:
    s = imp.shape(x)
    return torch.Size(s) if dim is None else s[dim]


def matmul(imp: Importer, a: Tensor, b: Tensor) -> Tensor:
    return imp.op("matmul", [a, b])


def conv2d(imp: Importer, x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    if isinstance(padding, str):
        raise imp.unsupported("F.conv2d with string padding")
    ph, pw = _pair(padding)
    attrs = A.Conv2dAttrs(_pair(stride), (ph, ph, pw, pw), _pair(dilation), groups)
    return imp.op("conv2d", [x, weight] + ([bias] if bias is not None else []), attrs)


def linear(imp: Importer, x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    return imp.op("linear", [x, weight] + ([bias] if bias is not None else []))


def pad(imp: Importer, x: Tensor, pads: Any, mode: str = "constant", value: float | None = None) -> Tensor:
    rank = len(imp.shape(x))
    full = [0] * (2 * rank)
    for k in range(len(pads) // 2):  # torch lists the last axis first: (left, right, top, bottom, ...)
        axis = rank - 1 - k
        full[2 * axis], full[2 * axis + 1] = int(pads[2 * k]), int(pads[2 * k + 1])
    return imp.op("pad", [x], A.PadAttrs(tuple(full), mode, float(value or 0.0)))


def interpolate(imp: Importer, x: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, **_: Any) -> Tensor:
    h, w = imp.shape(x)[2:]
    if size is not None:
        out = _pair(size)
    else:
        sf = (scale_factor, scale_factor) if isinstance(scale_factor, (int, float)) else scale_factor
        out = (int(math.floor(h * sf[0])), int(math.floor(w * sf[1])))
    if mode not in ("nearest", "bilinear"):
        raise imp.unsupported(f"interpolate mode '{mode}'")
    return imp.op("resize", [x], A.ResizeAttrs(out, mode, bool(align_corners)))


def attention(imp: Importer, q: Tensor, k: Tensor, v: Tensor, attn_mask: Any = None, dropout_p: float = 0.0,
              is_causal: bool = False, scale: float | None = None, **_: Any) -> Tensor:
    """softmax(q @ k^T * scale) @ v as explicit matmuls, so counts and backends see them."""
    if attn_mask is not None or is_causal:
        raise imp.unsupported("scaled_dot_product_attention with a mask")
    d = imp.shape(q)[-1]
    kt = transpose(imp, k, -2, -1)
    scores = imp.op("matmul", [q, kt], suffix=".scores")
    scaled = imp.op("mul", [scores, imp.const(scale if scale is not None else 1.0 / math.sqrt(d), "scale")],
                    suffix=".scaled")
    probs = imp.op("softmax", [scaled], A.AxisAttrs(len(imp.shape(scaled)) - 1), suffix=".probs")
    return imp.op("matmul", [probs, v], suffix=".context")


def _act(op: str, attrs_fn: Callable[..., Any] | None = None) -> Callable[..., Tensor]:
    def rule(imp: Importer, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        kwargs.pop("inplace", None)
        return imp.op(op, [x], attrs_fn(*args, **kwargs) if attrs_fn else None)
    return rule


def _clamp(imp: Importer, x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    if min == 0 and max is None:
        return imp.op("relu", [x])
    if min == 0 and max == 6:
        return imp.op("relu6", [x])
    return imp.op("clip", [x], A.ClipAttrs(-math.inf if min is None else float(min),
                                           math.inf if max is None else float(max)))


def _dropout(imp: Importer, x: Tensor, *_: Any, **__: Any) -> Tensor:
    return x


def pool_attrs(imp: Importer, op: str, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Any = None, return_indices: bool = False) -> A.Pool2dAttrs:
    if divisor_override is not None or return_indices:
        raise imp.unsupported(f"{op} with divisor_override/return_indices")
    k = _pair(kernel_size)
    s = _pair(stride) if stride not in (None, (), []) else k
    ph, pw = _pair(padding)
    return A.Pool2dAttrs(k, s, (ph, ph, pw, pw), _pair(dilation), bool(ceil_mode), bool(count_include_pad))


def _pool(op: str) -> Callable[..., Tensor]:
    def rule(imp: Importer, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if op == "avg_pool2d" and len(args) > 3:  # F.avg_pool2d has no dilation argument
            args = (*args[:3], 1, *args[3:])
        return imp.op(op, [x], pool_attrs(imp, op, *args, **kwargs))
    return rule


def adaptive_attrs(in_shape: tuple[int, ...], output_size: Any) -> A.AdaptivePoolAttrs:
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    return A.AdaptivePoolAttrs((size[0] or in_shape[2], size[1] or in_shape[3]))


def _adaptive(imp: Importer, x: Tensor, output_size: Any) -> Tensor:
    return imp.op("adaptive_avg_pool2d", [x], adaptive_attrs(imp.shape(x), output_size))


def _layer_norm(imp: Importer, x: Tensor, normalized_shape: Any, weight: Any = None, bias: Any = None,
                eps: float = 1e-5) -> Tensor:
    axes = 1 if isinstance(normalized_shape, int) else len(normalized_shape)
    return imp.op("layer_norm", [x] + [t for t in (weight, bias) if t is not None], A.NormAttrs(eps, axes))


def _binary_rule(op: str, swap: bool = False) -> Callable[..., Any]:
    def rule(imp: Importer, a: Any, b: Any, **kwargs: Any) -> Any:
        if kwargs.get("alpha", 1) != 1:
            raise imp.unsupported(f"{op} with alpha")
        return binary(imp, op, b, a) if swap else binary(imp, op, a, b)
    return rule


def _getattr(imp: Importer, x: Any, attr: str) -> Any:
    if isinstance(x, Tensor) and attr == "shape":
        return torch.Size(imp.shape(x))
    if isinstance(x, Tensor) and attr == "T":
        return permute(imp, x, tuple(reversed(range(len(imp.shape(x))))))
    if not isinstance(x, Tensor):
        return getattr(x, attr)
    raise imp.unsupported(f"tensor attribute '{attr}'")


def _python_only(fn: Callable[..., Any], what: str) -> Callable[..., Any]:
    def rule(imp: Importer, *args: Any) -> Any:
        if any(isinstance(a, Tensor) for a in args):
            raise imp.unsupported(what)
        return fn(*args)
    return rule


FUNCTION_RULES: dict[Any, Callable[..., Any]] = {
    operator.add: _binary_rule("add"), torch.add: _binary_rule("add"),
    operator.sub: _binary_rule("sub"), torch.sub: _binary_rule("sub"),
    operator.mul: _binary_rule("mul"), torch.mul: _binary_rule("mul"),
    operator.truediv: _binary_rule("div"), torch.div: _binary_rule("div"),
    operator.floordiv: _python_only(operator.floordiv, "floor division of tensors"),
    operator.neg: lambda imp, x: binary(imp, "mul", x, -1.0),
    operator.getitem: index, getattr: _getattr,
    torch.flatten: flatten, torch.reshape: reshape, torch.permute: permute, torch.transpose: transpose,
    torch.cat: concat, torch.concat: concat, torch.stack: stack, torch.chunk: chunk, torch.split: split,
    torch.unsqueeze: unsqueeze, torch.squeeze: squeeze, torch.mean: mean,
    torch.matmul: matmul, torch.bmm: matmul, operator.matmul: matmul, F.linear: linear,
    F.conv2d: conv2d, torch.conv2d: conv2d,
    torch.relu: _act("relu"), F.relu: _act("relu"), F.relu6: _act("relu6"),
    torch.sigmoid: _act("sigmoid"), F.sigmoid: _act("sigmoid"), torch.tanh: _act("tanh"), F.tanh: _act("tanh"),
    F.silu: _act("silu"), F.hardswish: _act("hardswish"), torch.erf: _act("erf"),
    F.gelu: _act("gelu", lambda approximate="none": A.GeluAttrs(approximate)),
    F.leaky_relu: _act("leaky_relu", lambda negative_slope=0.01: A.SlopeAttrs(negative_slope)),
    F.elu: _act("elu", lambda alpha=1.0: A.SlopeAttrs(alpha)),
    torch.clamp: _clamp, torch.clip: _clamp, F.hardtanh: lambda imp, x, min_val=-1.0, max_val=1.0, **_:
    _clamp(imp, x, min_val, max_val),
    torch.softmax: softmax, F.softmax: softmax,
    F.dropout: _dropout, F.max_pool2d: _pool("max_pool2d"), F.avg_pool2d: _pool("avg_pool2d"),
    F.adaptive_avg_pool2d: _adaptive, F.layer_norm: _layer_norm, F.pad: pad, F.interpolate: interpolate,
    F.scaled_dot_product_attention: attention,
}

METHOD_RULES: dict[str, Callable[..., Any]] = {
    "view": reshape, "reshape": reshape, "flatten": flatten, "permute": permute, "transpose": transpose,
    "contiguous": lambda imp, x, *_, **__: x, "clone": lambda imp, x, *_, **__: x,
    "size": size, "dim": lambda imp, x: len(imp.shape(x)), "numel": lambda imp, x: math.prod(imp.shape(x)),
    "chunk": chunk, "split": split, "mean": mean, "expand": expand, "unsqueeze": unsqueeze, "squeeze": squeeze,
    "softmax": softmax, "relu": _act("relu"), "sigmoid": _act("sigmoid"), "tanh": _act("tanh"),
    "add": _binary_rule("add"), "sub": _binary_rule("sub"), "mul": _binary_rule("mul"), "div": _binary_rule("div"),
    "matmul": matmul, "clamp": _clamp, "t": lambda imp, x: transpose(imp, x, 0, -1),
}


def _callable_name(target: Any) -> str:
    name = getattr(target, "__name__", None) or str(target)
    module = getattr(target, "__module__", None) or "torch"  # torch's C builtins have no module
    return f"{module.replace('torch._C._nn', 'torch.nn.functional')}.{name}"


def call_function(imp: Importer, target: Any, args: tuple, kwargs: dict) -> Any:
    rule = FUNCTION_RULES.get(target)
    if rule is None:
        raise imp.unsupported(_callable_name(target))
    return rule(imp, *args, **kwargs)


def call_method(imp: Importer, target: str, args: tuple, kwargs: dict) -> Any:
    if target == "float" or (target == "to" and args[1:] in ((torch.float32,), ())):
        return args[0]
    rule = METHOD_RULES.get(target)
    if rule is None:
        raise imp.unsupported(f"Tensor.{target}")
    return rule(imp, *args, **kwargs)


