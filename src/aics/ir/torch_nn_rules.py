"""Rules for standard ``torch.nn`` modules, traced as leaves: module -> IR nodes.

Weights become const nodes named after the module (``features.0.weight``). Multi-head attention
and RNN layers expand here; modules without a rule are reported by the importer as unsupported.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from torch import nn

from aics.ir import attrs as A
from aics.ir import torch_rules as T
from aics.ir.torch_import import Importer, RnnResult, Tensor, Unmapped


def _w(imp: Importer, m: nn.Module, attr: str, prefix: str = "") -> list[Tensor]:
    t = getattr(m, attr, None)
    return [] if t is None else [imp.param(f"{prefix or imp.name()}.{attr}", t)]


def conv2d(imp: Importer, m: nn.Conv2d, x: Tensor) -> Tensor:
    k, d = m.kernel_size, m.dilation
    if isinstance(m.padding, str):
        if m.padding == "same":
            tot = [d[i] * (k[i] - 1) for i in range(2)]
            pads = (tot[0] // 2, tot[0] - tot[0] // 2, tot[1] // 2, tot[1] - tot[1] // 2)
        else:
            pads = (0, 0, 0, 0)
    else:
        pads = (m.padding[0], m.padding[0], m.padding[1], m.padding[1])
    if m.padding_mode != "zeros":
        mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[m.padding_mode]
        x = imp.op("pad", [x], A.PadAttrs((0, 0, 0, 0, pads[0], pads[1], pads[2], pads[3]), mode), ".pad")
        pads = (0, 0, 0, 0)
    attrs = A.Conv2dAttrs(tuple(m.stride), pads, tuple(d), m.groups)
    return imp.op("conv2d", [x, *_w(imp, m, "weight"), *_w(imp, m, "bias")], attrs)


def conv_transpose2d(imp: Importer, m: nn.ConvTranspose2d, x: Tensor, output_size: Any = None) -> Tensor:
    if output_size is not None or m.padding_mode != "zeros":
        raise imp.unsupported("ConvTranspose2d with output_size or non-zero padding mode")
    attrs = A.ConvTranspose2dAttrs(tuple(m.stride), tuple(m.padding), tuple(m.output_padding),
                                   tuple(m.dilation), m.groups)
    return imp.op("conv_transpose2d", [x, *_w(imp, m, "weight"), *_w(imp, m, "bias")], attrs)


def linear(imp: Importer, m: nn.Linear, x: Tensor) -> Tensor:
    return imp.op("linear", [x, *_w(imp, m, "weight"), *_w(imp, m, "bias")])


def batch_norm(imp: Importer, m: nn.modules.batchnorm._BatchNorm, x: Tensor) -> Tensor:
    if m.running_mean is None:
        raise imp.unsupported(f"{type(m).__name__} without running statistics")
    if m.affine:
        gamma, beta = _w(imp, m, "weight") + _w(imp, m, "bias")
    else:
        c = m.num_features
        gamma, beta = imp.const(np.ones(c), "weight"), imp.const(np.zeros(c), "bias")
    stats = [imp.param(f"{imp.name()}.running_mean", m.running_mean, trainable=False),
             imp.param(f"{imp.name()}.running_var", m.running_var, trainable=False)]
    return imp.op("batch_norm", [x, gamma, beta, *stats], A.NormAttrs(m.eps))


def layer_norm(imp: Importer, m: nn.LayerNorm, x: Tensor) -> Tensor:
    ws = _w(imp, m, "weight") + _w(imp, m, "bias")
    return imp.op("layer_norm", [x, *ws], A.NormAttrs(m.eps, len(m.normalized_shape)))


def _simple(op: str, attrs: Callable[[Any], Any] | None = None) -> Callable[..., Tensor]:
    def rule(imp: Importer, m: nn.Module, x: Tensor) -> Tensor:
        return imp.op(op, [x], attrs(m) if attrs else None)
    return rule


def hardtanh(imp: Importer, m: nn.Hardtanh, x: Tensor) -> Tensor:
    return T._clamp(imp, x, m.min_val, m.max_val)


def prelu(imp: Importer, m: nn.PReLU, x: Tensor) -> Tensor:
    return imp.op("prelu", [x, *_w(imp, m, "weight")])


def pool(op: str) -> Callable[..., Tensor]:
    def rule(imp: Importer, m: nn.Module, x: Tensor) -> Tensor:
        kw = dict(kernel_size=m.kernel_size, stride=m.stride, padding=m.padding, ceil_mode=m.ceil_mode)
        if op == "max_pool2d":
            kw.update(dilation=m.dilation, return_indices=m.return_indices)
        else:
            kw.update(count_include_pad=m.count_include_pad, divisor_override=m.divisor_override)
        return imp.op(op, [x], T.pool_attrs(imp, op, **kw))
    return rule


def adaptive_avg_pool(imp: Importer, m: nn.AdaptiveAvgPool2d, x: Tensor) -> Tensor:
    return imp.op("adaptive_avg_pool2d", [x], T.adaptive_attrs(imp.shape(x), m.output_size))


def flatten(imp: Importer, m: nn.Flatten, x: Tensor) -> Tensor:
    return T.flatten(imp, x, m.start_dim, m.end_dim)


def unflatten(imp: Importer, m: nn.Unflatten, x: Tensor) -> Tensor:
    s = imp.shape(x)
    a = T.norm_axis(m.dim, len(s))
    return T.reshape(imp, x, (*s[:a], *m.unflattened_size, *s[a + 1:]))


def identity(imp: Importer, m: nn.Module, x: Tensor, *_: Any, **__: Any) -> Tensor:
    return x


def softmax(imp: Importer, m: nn.Softmax, x: Tensor) -> Tensor:
    return T.softmax(imp, x, -1 if m.dim is None else m.dim)


def embedding(imp: Importer, m: nn.Embedding, ids: Tensor) -> Tensor:
    return imp.op("embedding", [ids, *_w(imp, m, "weight")])


def lrn(imp: Importer, m: nn.LocalResponseNorm, x: Tensor) -> Tensor:
    return imp.op("local_response_norm", [x], A.LrnAttrs(m.size, m.alpha, m.beta, m.k))


def upsample(imp: Importer, m: nn.Upsample, x: Tensor) -> Tensor:
    return T.interpolate(imp, x, m.size, m.scale_factor, m.mode, m.align_corners)


def constant_pad(imp: Importer, m: nn.modules.padding._ConstantPadNd, x: Tensor) -> Tensor:
    return T.pad(imp, x, m.padding, "constant", m.value)


def zero_pad(imp: Importer, m: nn.ZeroPad2d, x: Tensor) -> Tensor:
    return T.pad(imp, x, m.padding, "constant", 0.0)


def rnn(op: str) -> Callable[..., RnnResult]:
    def rule(imp: Importer, m: nn.RNNBase, x: Tensor, hx: Any = None) -> RnnResult:
        if hx is not None or getattr(m, "proj_size", 0):
            raise imp.unsupported(f"{type(m).__name__} with an initial state or projections")
        if not m.batch_first:
            x = T.transpose(imp, x, 0, 1)
        weights = []
        suffixes = [""] + (["_reverse"] if m.bidirectional else [])
        for layer in range(m.num_layers):
            for sfx in suffixes:
                names = [f"weight_ih_l{layer}{sfx}", f"weight_hh_l{layer}{sfx}"]
                if m.bias:
                    names += [f"bias_ih_l{layer}{sfx}", f"bias_hh_l{layer}{sfx}"]
                weights += [w for n in names for w in _w(imp, m, n)]
        attrs = A.RnnAttrs(m.hidden_size, m.num_layers, m.bidirectional, m.bias)
        out = imp.op(op, [x, *weights], attrs)
        if not m.batch_first:
            out = T.transpose(imp, out, 0, 1)
        return RnnResult((out, Unmapped(f"use of the final state of {type(m).__name__} (index its output)")))
    return rule


def multihead_attention(imp: Importer, m: nn.MultiheadAttention, query: Tensor, key: Tensor, value: Tensor,
                        key_padding_mask: Any = None, need_weights: bool = True, attn_mask: Any = None,
                        average_attn_weights: bool = True, is_causal: bool = False) -> RnnResult:
    """Expanded into q/k/v projections, per-head matmuls, softmax and the output projection."""
    if key_padding_mask is not None or attn_mask is not None or m.bias_k is not None:
        raise imp.unsupported("MultiheadAttention with masks or bias_k/bias_v")
    if not m._qkv_same_embed_dim:
        raise imp.unsupported("MultiheadAttention with kdim/vdim != embed_dim")
    e, h = m.embed_dim, m.num_heads
    if not m.batch_first:
        query, key, value = (T.transpose(imp, t, 0, 1) for t in (query, key, value))
    base = imp.name()
    heads = []
    for i, (t, tag) in enumerate(((query, "q"), (key, "k"), (value, "v"))):
        w = imp.derived(f"{base}.{tag}_proj.weight", m.in_proj_weight, (e, e), lambda a, i=i: a[i * e:(i + 1) * e])
        ins = [t, w]
        if m.in_proj_bias is not None:
            ins.append(imp.derived(f"{base}.{tag}_proj.bias", m.in_proj_bias, (e,), lambda a, i=i: a[i * e:(i + 1) * e]))
        proj = imp.op("linear", ins, suffix=f".{tag}_proj")
        n, length = imp.shape(proj)[:2]
        heads.append(T.permute(imp, T.reshape(imp, proj, (n, length, h, e // h)), (0, 2, 1, 3)))
    ctx = T.attention(imp, *heads)
    n, _, length, _ = imp.shape(ctx)
    merged = T.reshape(imp, T.permute(imp, ctx, (0, 2, 1, 3)), (n, length, e))
    ws = [w for a in ("weight", "bias") for w in _w(imp, m.out_proj, a, f"{base}.out_proj")]
    out = imp.op("linear", [merged, *ws], suffix=".out_proj")
    if not m.batch_first:
        out = T.transpose(imp, out, 0, 1)
    return RnnResult((out, Unmapped("use of MultiheadAttention's attention weights")))


MODULE_RULES: dict[type, Callable[..., Any]] = {
    nn.Conv2d: conv2d, nn.ConvTranspose2d: conv_transpose2d, nn.Linear: linear,
    nn.modules.batchnorm._BatchNorm: batch_norm, nn.LayerNorm: layer_norm,
    nn.ReLU: _simple("relu"), nn.ReLU6: _simple("relu6"), nn.Sigmoid: _simple("sigmoid"), nn.Tanh: _simple("tanh"),
    nn.Hardswish: _simple("hardswish"), nn.SiLU: _simple("silu"),
    nn.GELU: _simple("gelu", lambda m: A.GeluAttrs(m.approximate)),
    nn.LeakyReLU: _simple("leaky_relu", lambda m: A.SlopeAttrs(m.negative_slope)),
    nn.ELU: _simple("elu", lambda m: A.SlopeAttrs(m.alpha)), nn.Hardtanh: hardtanh, nn.PReLU: prelu,
    nn.Softmax: softmax, nn.MaxPool2d: pool("max_pool2d"), nn.AvgPool2d: pool("avg_pool2d"),
    nn.AdaptiveAvgPool2d: adaptive_avg_pool, nn.Flatten: flatten, nn.Unflatten: unflatten,
    nn.Identity: identity, nn.modules.dropout._DropoutNd: identity,
    nn.Embedding: embedding, nn.LocalResponseNorm: lrn, nn.Upsample: upsample,
    nn.ZeroPad2d: zero_pad, nn.modules.padding._ConstantPadNd: constant_pad,
    nn.LSTM: rnn("lstm"), nn.GRU: rnn("gru"), nn.MultiheadAttention: multihead_attention,
}
# Leaves for the tracer: every nn module we map, so fx does not trace into their forward.
LEAF_TYPES: tuple[type, ...] = tuple(MODULE_RULES)


def module_rule(module: nn.Module) -> Callable[..., Any] | None:
    for cls in type(module).__mro__:
        if cls in MODULE_RULES:
            return MODULE_RULES[cls]
    return None
