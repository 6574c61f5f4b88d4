"""Turn calibrated ranges and a plan into ``Graph.quant``: the integer representation of every tensor.

Conventions (TFLite int8 spec, which the integer reference executes):

* weights of conv2d / conv_transpose2d / linear: int8, symmetric per output channel, zero point 0,
  codes in [-w_max, w_max] (127, or 7 for ``int8:w4``); bias int32 with scale ``s_in * s_w[c]``;
* activations: per tensor, range widened to include 0 so real zero is exact; int8 asymmetric,
  int16 symmetric (TFLite 16x8);
* fused activation: a layer whose only reader is relu / relu6 / clip takes that reader's params, so
  requantization clamps as the activation would; relu / relu6 / clip then share their producer's
  params, as do max pool, average pools, reshape, permute, slice, expand and pad (TFLite requires
  equal input/output params for these);
* concat: its inputs and its output share one set of params covering all their ranges (TFLite's
  rule for CONCATENATION), so a concat moves codes without converting them and a compiler may have
  the producers write straight into their slots of the output (``shared_ranges``);
* fixed point: every tensor of the layer (weights, bias, output) gets the layer's ``FixedType``;
* float32 layers: weights float32; the output float32 unless a quantized layer reads it, in which
  case it is stored in that reader's integer format (the host quantizes before handing back);
* constants of ops the integer reference computes in float32 (unfolded batch norm, layer norm,
  LSTM/GRU) stay float32; other constant operands (an add's bias map) are per-tensor activations.

Weights and biases in the returned graph's params are snapped to their grids (``scale * code``, codes
rounded half away from zero as TFLite does), so the float values and the annotations agree exactly
whichever side an executor reads.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from aics.compress.quant.plan import QuantPlan
from aics.compress.quant.scheme import Scheme
from aics.errors import QuantizationError
from aics.ir.graph import Graph, Node
from aics.ir.quant import QuantParams
from aics.numerics import round_half_away

Range = tuple[float, float]
WEIGHTED = frozenset({"conv2d", "conv_transpose2d", "linear"})
FUSABLE_ACTS = frozenset({"relu", "relu6", "clip"})
SHARE_INPUT = frozenset({"relu", "relu6", "clip", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
                         "reshape", "permute", "slice", "expand", "pad"})
# Ops the integer reference always computes in float32 (host or vector unit): constants stay float.
FLOAT_CONSTS = frozenset({"batch_norm", "layer_norm", "lstm", "gru"})
_INT32 = (-(2**31), 2**31 - 1)


def node_schemes(graph: Graph, plan: QuantPlan) -> dict[str, Scheme]:
    """The scheme of every node. A node the plan names gets that scheme; an unnamed activation,
    pool or data-movement op follows its input (a layer's scheme covers its relu and pooling);
    any other unnamed node, and every graph input, gets the plan's default."""
    named = dict(plan.layers)
    out: dict[str, Scheme] = {}
    for n in graph.nodes:
        src = graph[n.inputs[0]] if n.inputs else None
        if n.name not in named and n.op in SHARE_INPUT and src is not None and src.op != "const":
            out[n.name] = out[src.name]
        else:
            out[n.name] = plan.scheme_for(n.name)
    return out


def range_owners(graph: Graph, schemes: Mapping[str, Scheme]) -> dict[str, str]:
    """For each activation (non-const node), the node whose calibrated range sets its params.

    Calibration only needs the owners' ranges; QAT puts its activation fake-quant exactly there.
    """
    users = graph.users()
    owner: dict[str, str] = {}
    for n in graph.nodes:
        if n.op == "const" or not n.dtype.startswith("float"):  # token ids are integers already
            continue
        scheme = schemes[n.name]
        src = graph[n.inputs[0]] if n.inputs else None
        if n.op in SHARE_INPUT and src is not None and src.op != "const" and schemes[src.name] == scheme:
            owner[n.name] = owner[src.name]
            continue
        owner[n.name] = n.name
        readers = users[n.name]
        if n.op not in SHARE_INPUT and len(readers) == 1 and n.name not in graph.outputs:
            act = graph[readers[0]]
            if act.op in FUSABLE_ACTS and schemes[act.name] == scheme:
                owner[n.name] = act.name
    return owner


def shared_ranges(graph: Graph, owners: Mapping[str, str], ranges: Mapping[str, Range],
                  schemes: Mapping[str, Scheme]) -> dict[str, Range]:
    """``ranges`` with the owners joined by concats widened to the union of their ranges.

    A concat in an int scheme joins its output's owner with the owner of each input in the same
    scheme (constants and integer tensors excluded); joins are transitive, so DenseNet's concats of
    growing feature lists end up sharing one range per block.
    """
    parent: dict[str, str] = {}

    def root(o: str) -> str:
        while parent.get(o, o) != o:
            o = parent[o]
        return o

    for n in graph.nodes:
        if n.op != "concat" or schemes[n.name].kind != "int" or n.name not in owners:
            continue
        for i in n.inputs:
            if i in owners and schemes[i] == schemes[n.name]:
                a, b = root(owners[i]), root(owners[n.name])
                if a != b:
                    parent[a] = b
    union: dict[str, Range] = {}
    for o in parent.keys() | set(parent.values()):
        if o in ranges:
            lo, hi = ranges[o]
            r = root(o)
            union[r] = (min(lo, union[r][0]), max(hi, union[r][1])) if r in union else (lo, hi)
    return {**ranges, **{o: union[root(o)] for o in parent.keys() | set(parent.values()) if root(o) in union}}


def annotate(graph: Graph, ranges: Mapping[str, Range], plan: QuantPlan) -> Graph:
    """``graph`` (BN already folded) with ``quant`` for every tensor and weights snapped to their grids.

    ``ranges`` must hold the calibrated range of every owner (``range_owners``) in an int scheme
    (``calibrate`` gives exactly those).
    """
    schemes = node_schemes(graph, plan)
    owners = range_owners(graph, schemes)
    ranges = shared_ranges(graph, owners, ranges, schemes)
    users = graph.users()
    quant: dict[str, QuantParams] = {}
    params = dict(graph.params)
    for n in graph.nodes:
        if n.op == "const" or not n.dtype.startswith("float"):  # token ids are integers already
            continue
        scheme = schemes[n.name]
        quant[n.name] = _activation(graph, n, scheme, owners, ranges, quant, users, schemes)
        consts = [i for i in n.inputs if graph[i].op == "const"]
        if n.op in WEIGHTED and len(n.inputs) > 1 and n.inputs[1] in consts:
            _weights(graph, n, scheme, quant, params)
        for c in consts:
            if c not in quant and c in graph.params:
                quant[c] = QuantParams("float32") if n.op in FLOAT_CONSTS else _const_params(graph.params[c], scheme)
    return graph.with_nodes(graph.nodes, params=params, quant=quant)


def _activation(graph: Graph, n: Node, scheme: Scheme, owners: Mapping[str, str], ranges: Mapping[str, Range],
                done: Mapping[str, QuantParams], users: Mapping[str, list[str]],
                schemes: Mapping[str, Scheme]) -> QuantParams:
    owner = owners[n.name]
    if owner != n.name and owner in done:
        return done[owner]
    if scheme.kind == "fixed":
        return QuantParams("fixed", fixed=scheme.fixed)
    if scheme.kind == "float":
        readers = [schemes[u] for u in users[n.name]]
        quantized = [s for s in readers if s.kind != "float"]
        if not quantized:
            return QuantParams("float32")
        scheme = quantized[0]
        if scheme.kind == "fixed":
            return QuantParams("fixed", fixed=scheme.fixed)
    if owner not in ranges:
        raise QuantizationError(f"no calibrated range for tensor '{owner}' (needed by '{n.name}')")
    return activation_params(ranges[owner], scheme)


def activation_params(rng: Range, scheme: Scheme) -> QuantParams:
    """Per-tensor params covering ``rng`` (``Scheme.act_params``)."""
    lo, hi = float(rng[0]), float(rng[1])
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise QuantizationError(f"calibrated range ({lo}, {hi}) is not finite")
    scale, zp = scheme.act_params(lo, hi)
    return QuantParams(scheme.dtype, (float(scale),), (zp,))


def weight_scales(w: np.ndarray, axis: int, w_max: int) -> np.ndarray:
    """Per-channel symmetric scales ``max|w_c| / w_max`` (as float32 values); an all-zero channel
    gets ``1 / w_max``."""
    other = tuple(i for i in range(w.ndim) if i != axis)
    amax = np.max(np.abs(w.astype(np.float64)), axis=other) if other else np.abs(w.astype(np.float64))
    return (np.where(amax > 0, amax, 1.0) / w_max).astype(np.float32).astype(np.float64)


def _weights(graph: Graph, n: Node, scheme: Scheme, quant: dict[str, QuantParams],
             params: dict[str, np.ndarray]) -> None:
    w_name = n.inputs[1]
    b_name = n.inputs[2] if len(n.inputs) > 2 and graph[n.inputs[2]].op == "const" else None
    if w_name not in graph.params:
        raise QuantizationError(f"layer '{n.name}' has no weight data to quantize")
    if scheme.kind == "float":
        quant[w_name] = QuantParams("float32")
        if b_name:
            quant[b_name] = QuantParams("float32")
        return
    if scheme.kind == "fixed":
        assert scheme.fixed is not None
        for c in (w_name, b_name):
            if c:
                params[c] = scheme.fixed.to_real(scheme.fixed.quantize(graph.params[c])).astype(np.float32)
                quant[c] = QuantParams("fixed", fixed=scheme.fixed)
        return
    w = graph.params[w_name]
    per_channel = not (n.op == "conv_transpose2d" and n.attrs.groups != 1)
    axis = 1 if n.op == "conv_transpose2d" else 0
    scales = weight_scales(w, axis, scheme.weight_max) if per_channel else \
        weight_scales(w.reshape(1, -1), 0, scheme.weight_max)
    shape = [1] * w.ndim
    if per_channel:
        shape[axis] = -1
    codes = np.clip(round_half_away(w / scales.reshape(shape)), -scheme.weight_max, scheme.weight_max)
    params[w_name] = (codes * scales.reshape(shape)).astype(np.float32)
    quant[w_name] = QuantParams(scheme.weight_dtype, tuple(float(s) for s in scales), (0,) * len(scales),
                                axis if per_channel else None)
    if b_name is None:
        return
    in_q = quant.get(n.inputs[0])
    s_in = _input_scale(in_q, n)
    b_scales = s_in * (scales if per_channel else np.full(graph[b_name].shape[0], scales[0]))
    b_codes = np.clip(round_half_away(graph.params[b_name] / b_scales), *_INT32)
    params[b_name] = (b_codes * b_scales).astype(np.float32)
    quant[b_name] = QuantParams("int32", tuple(float(s) for s in b_scales), (0,) * len(b_scales), 0)


def _input_scale(q: QuantParams | None, n: Node) -> float:
    if q is None or q.dtype == "float32":
        raise QuantizationError(f"layer '{n.name}' is quantized but its input '{n.inputs[0]}' is float")
    if q.dtype == "fixed":
        assert q.fixed is not None
        return q.fixed.lsb
    return q.scale[0]


def _const_params(data: np.ndarray, scheme: Scheme) -> QuantParams:
    """A constant operand of a non-weighted op (an add's bias map, a prelu slope): per tensor."""
    if scheme.kind == "float":
        return QuantParams("float32")
    if scheme.kind == "fixed":
        return QuantParams("fixed", fixed=scheme.fixed)
    arr = np.asarray(data, dtype=np.float64)
    return activation_params((float(arr.min()), float(arr.max())), scheme)
