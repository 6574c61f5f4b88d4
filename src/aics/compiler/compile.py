"""Graph -> DLP program: passes, fusion plan, lowering of every layer, DRAM layout, I/O descriptors.

``compile_graph(qgraph, arch)`` takes a quantized graph (``aics.compress.quant``) and returns a
``Compiled``: the ``Program`` (the executable: code, DRAM image, I/O descriptors with their
quantisation, layer names by tag) and per-layer facts (MACs, compulsory DRAM bytes) for reports.

Scope today (see the module docstrings of ``lower``): int8 conv2d (any stride, padding,
dilation, groups), conv_transpose2d (``lower.transpose``), linear, batched matmul and softmax
(``lower.attention``), max/avg pooling, adaptive average pooling to any size, LUT activations,
add/sub, broadcasting mul and expand (``lower.broadcast``), batch_norm and layer_norm replaying
the reference's float32 recipe on the vector unit (``lower.norm``), concat, slice, permute (DMA
copies, or none: reshapes, contiguous slices and channel concats share DRAM bytes, ``views``);
exact clamp activations fused into the conv/linear/add/conv_transpose/batch_norm epilogues,
residual adds fused into the conv epilogue (``passes.fuse_epilogue``) or, after an SE gate's
mul, into the mul (``lower.broadcast``). Any other layer (or one of these in a form they do not handle), and
every layer computing in float numerics (mixed precision, LSTM/GRU, LRN, ...), runs on the host
CPU (``lower.host``): a ``host`` barrier in the program, its cost from the arch's host model in
the reports.

Several cores (``arch.cores``): every layer's tiles are shared out in contiguous shares (conv:
output-channel tiles first, so each core streams its own weights), each core loads its own
resident tables, and a ``sync`` on every core ends each layer.

Then passes over the program itself, each keeping every dependence (so the outputs stay
bit-exact): activations kept in free NRAM between layers (``onchip``, one core), constant loads
hoisted ahead of activation loads (``prefetch``), and list scheduling (``reorder``), kept only
when the timing simulator finds it faster.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from aics.compiler.lower.attention import (
    lower_matmul, lower_softmax, matmul_on_dlp, softmax_on_dlp,
)
from aics.compiler.lower.broadcast import all_int8, expand_on_dlp, lower_expand, lower_mul, mul_on_dlp
from aics.compiler.lower.common import Emitter, LayerInfo, Lowered, describe, numel, tensor_dtype
from aics.compiler.lower.float32 import as_float32, lower_float, plan_float
from aics.compiler.lower.host import lower_host
from aics.compiler.lower.movement import (
    lower_concat, lower_identity_average, lower_permute, lower_slice, moves_codes_as_they_are,
)
from aics.compiler.lower.norm import lower_batch_norm, lower_layer_norm, norm_on_dlp
from aics.compiler.lower.transpose import conv_transpose_on_dlp, lower_conv_transpose
from aics.compiler.lower.vector import (
    adaptive_on_dlp, add_on_dlp, lower_adaptive_avg, lower_add, lower_global_avg, lower_lut, lower_pool,
)
from aics.compiler.lower.weighted import lower_conv, lower_linear
from aics.compiler.passes.fuse_epilogue import FusionPlan, clamp_of, plan_epilogues
from aics.compiler.pipeline import FLOAT_PIPELINE, QUANT_PIPELINE, PassRecord, optimize
from aics.compiler.onchip import place_in_nram
from aics.compiler.prefetch import prefetch_constants
from aics.compiler.reorder import list_schedule
from aics.compiler.views import plan_views
from aics.dlp import sim
from aics.dlp.arch import Arch
from aics.dlp.isa import Instr
from aics.dlp.program import Program, TensorDesc, arch_fingerprint
from aics.ir.graph import Graph, Node
from aics.reference import qtensor as Q
from aics.reference.functions import UNARY
from aics.reference.int_ops import compute_mode
from aics.reference.qtensor import quantized_consts


@dataclass(frozen=True)
class Compiled:
    program: Program
    graph: Graph  # the graph after the passes (what the program computes)
    layers: tuple[LayerInfo, ...]
    passes: tuple[PassRecord, ...]
    fusion: FusionPlan


def compile_graph(graph: Graph, arch: Arch, keep_on_chip: bool = True, reorder: bool = True) -> Compiled:
    """Compile ``graph`` for ``arch`` (batch 1): an int8 program from a quantized graph, an fp32
    program from a float one. ``keep_on_chip``: activations stay in the NRAM the layers leave free
    between their producer and last reader (``compiler.onchip``; one core only); ``reorder``: list
    scheduling (``compiler.reorder``), kept when the timing simulator finds it faster."""
    float32 = not graph.quant  # a float graph: an fp32 program (``lower.float32``)
    graph, records = optimize(graph, FLOAT_PIPELINE if float32 else QUANT_PIPELINE)
    if float32:
        graph = as_float32(graph)
    fusion = {} if float32 else plan_epilogues(graph)
    e = Emitter(graph, arch, Q.QuantView(graph), consts=dict(quantized_consts(graph)))
    lowered, alias = _lower_float32(e, graph) if float32 else _lower_all(e, graph, fusion)
    produced = [low.output for low in lowered]
    views = plan_views(graph, set(produced), alias, e.qp, lambda name: tensor_dtype(e.qp(name), graph[name]).size)
    for name in [n.name for n in graph.inputs] + produced:
        if name not in views.views:
            e.addr[name] = e.image.place(name, numel(graph[name].shape) * tensor_dtype(e.qp(name), graph[name]).size)
    for name in views.views:
        base, offset = views.resolve(name)
        e.addr[name] = e.addr[base] + offset
    for low in (low for low in lowered if low.output not in views.free):
        low.emit(e)
        e.end_layer()
        e.info.macs, e.info.compulsory_bytes = low.macs, low.compulsory_bytes
    code = [list(c) for c in e.code]
    inputs = tuple(describe(e, n.name, n.name) for n in graph.inputs)
    outputs = tuple(describe(e, o, o) for o in graph.outputs)
    if keep_on_chip and arch.cores == 1:
        code[0] = _keep_on_chip(e, code[0], inputs, outputs)
    code = [prefetch_constants(c, len(e.image.data)) for c in code]
    program = Program(code=tuple(tuple(c) for c in code), arch_name=arch.name,
                      arch_fingerprint=arch_fingerprint(arch),
                      dram=bytes(e.image.data), dram_size=e.image.size, symbols=dict(e.image.symbols),
                      inputs=inputs, outputs=outputs,
                      layers={info.tag: info.name for info in e.layers}, host_ops=tuple(e.host_ops))
    if reorder:
        program = _faster(program, replace(program, code=tuple(
            tuple(list_schedule(list(c), arch, program.dram_size)) for c in program.code)), arch)
    return Compiled(program, graph, tuple(e.layers), records, fusion)


def _faster(a: Program, b: Program, arch: Arch) -> Program:
    """The program the timing simulator finds faster (``a`` on a tie)."""
    return b if sim.run(b, arch, mode="timing").cycles < sim.run(a, arch, mode="timing").cycles else a


def _keep_on_chip(e: Emitter, code: list[Instr], inputs: tuple[TensorDesc, ...], outputs: tuple[TensorDesc, ...]
                  ) -> list[Instr]:
    """``place_in_nram`` for every activation region but the graph's inputs and outputs and the
    host CPU's operands (the host reads and writes DRAM)."""
    in_dram = {d.addr for d in (*inputs, *outputs)} | {d.addr for op in e.host_ops for d in (*op.inputs, *op.outputs)}
    movable = {name: (start, start + size) for name, (start, size) in e.image.symbols.items()
               if e.addr.get(name) == start and not any(start <= a < start + size for a in in_dram)}
    spans = {info.tag: info.nram_span for info in e.layers}
    return place_in_nram(code, movable, spans, e.arch.memory.nram_kib * 1024)[0]


def _lower_float32(e: Emitter, graph: Graph) -> tuple[list[Lowered], dict[str, str]]:
    plan = plan_float(graph)
    absorbed: set[str] = set()  # clamps fused into a conv/linear that the DLP runs
    lowered: list[Lowered] = []
    alias: dict[str, str] = {}
    for node in graph.nodes:
        if node.op in ("input", "const") or node.name in absorbed:
            continue
        if node.op == "reshape":
            alias[node.name] = alias.get(node.inputs[0], node.inputs[0])
            continue
        low = lower_float(e, node, plan)
        if low is None and node.name in plan:  # the host runs the conv/linear alone: its clamps stay layers
            plan = {**plan, node.name: (node.name, -float("inf"), float("inf"), ())}
        elif node.name in plan:
            absorbed.update(plan[node.name][3])
        lowered.append(low if low is not None else lower_host(e, node, "no fp32 lowering"))
    return lowered, alias


def _lower_all(e: Emitter, graph: Graph, fusion: FusionPlan) -> tuple[list[Lowered], dict[str, str]]:
    absorbed = {name for epi in fusion.values() for name in epi.absorbed}
    users = graph.users()
    lowered: list[Lowered] = []
    alias: dict[str, str] = {}
    mul_adds = _mul_then_add(e, graph, users, absorbed)  # add -> the mul fused into it (lowered at the add)
    deferred = {mul.name for mul in mul_adds.values()}
    for node in graph.nodes:
        if node.op in ("input", "const") or node.name in absorbed or node.name in deferred:
            continue
        mode = compute_mode(node, e.view)
        if node.name in mul_adds:
            mul = mul_adds[node.name]
            lowered.append(_fused_clamp(e, graph, node, users, absorbed,
                                        lambda em, add, out, lo, hi: lower_mul(em, mul, (add, out, lo, hi))))
            continue
        if norm_on_dlp(e, node) and node.op == "batch_norm":  # the reference's float32 recipe, on the DLP
            lowered.append(_fused_clamp(e, graph, node, users, absorbed, lower_batch_norm))
        elif norm_on_dlp(e, node):
            lowered.append(lower_layer_norm(e, node))
        elif mode != "int":
            lowered.append(lower_host(e, node, f"{mode} numerics"))
        elif node.op == "conv2d":
            lowered.append(lower_conv(e, node, fusion[node.name]))
        elif node.op == "linear":
            lowered.append(lower_linear(e, node, fusion[node.name]))
        elif node.op == "avg_pool2d" and _global_avg(e, node):
            lowered.append(lower_global_avg(e, node))
        elif node.op in ("max_pool2d", "avg_pool2d"):
            lowered.append(lower_pool(e, node))
        elif node.op == "adaptive_avg_pool2d" and node.shape == graph[node.inputs[0]].shape:
            lowered.append(lower_identity_average(e, node))
        elif node.op == "adaptive_avg_pool2d" and tuple(node.shape[2:]) != (1, 1) and adaptive_on_dlp(e, node):
            lowered.append(lower_adaptive_avg(e, node))
        elif node.op in ("adaptive_avg_pool2d", "mean"):
            lowered.append(lower_global_avg(e, node))
        elif node.op in UNARY:
            lowered.append(lower_lut(e, node))
        elif node.op in ("add", "sub") and add_on_dlp(e, node):
            lowered.append(_fused_clamp(e, graph, node, users, absorbed, lower_add))  # residual add + relu
        elif node.op == "mul" and mul_on_dlp(e, node):
            lowered.append(lower_mul(e, node))
        elif node.op == "expand" and expand_on_dlp(e, node):
            lowered.append(lower_expand(e, node))
        elif node.op == "matmul" and matmul_on_dlp(e, node):
            lowered.append(lower_matmul(e, node))
        elif node.op == "softmax" and softmax_on_dlp(e, node):
            lowered.append(lower_softmax(e, node))
        elif node.op == "conv_transpose2d" and conv_transpose_on_dlp(e, node):
            lowered.append(_fused_clamp(e, graph, node, users, absorbed, lower_conv_transpose))
        elif node.op == "concat":
            lowered.append(lower_concat(e, node))
        elif node.op == "slice" and moves_codes_as_they_are(e, node):
            lowered.append(lower_slice(e, node))
        elif node.op == "permute" and moves_codes_as_they_are(e, node):
            lowered.append(lower_permute(e, node))
        elif node.op == "reshape" and e.qp(node.name) == e.qp(node.inputs[0]):
            alias[node.name] = alias.get(node.inputs[0], node.inputs[0])
        else:
            lowered.append(lower_host(e, node, "no DLP lowering"))
    return lowered, alias  # an output that is a reshape view is described at its target's bytes


def _mul_then_add(e: Emitter, graph: Graph, users: dict[str, list[str]], absorbed: set[str]) -> dict[str, Node]:
    """Residual adds whose operand is a mul read by nothing else (an SE block's ``x * gate +
    identity``), both on the DLP in int8, and not already a conv's epilogue: add name -> mul. The
    pair is lowered at the add, once the residual exists (a downsample branch may come after the
    mul in node order)."""
    out = {}
    for node in graph.nodes:
        if node.op != "add" or node.name in absorbed or compute_mode(node, e.view) != "int" \
                or not all_int8(e, (*node.inputs, node.name)):
            continue
        for name in node.inputs:
            mul = graph[name]
            other = [i for i in node.inputs if i != name]
            if (mul.op == "mul" and users[name] == [node.name] and name not in graph.outputs and len(other) == 1
                    and mul.shape == node.shape == graph[other[0]].shape and graph[other[0]].op != "const"
                    and compute_mode(mul, e.view) == "int" and mul_on_dlp(e, mul)):
                out[node.name] = mul
                break
    return out


def _global_avg(e: Emitter, node: Node) -> bool:
    """An avg_pool2d with other output params whose one window covers the whole input (no padding):
    the reference's RQ average (TFLite MEAN), the same recipe as a global average."""
    x = e.graph[node.inputs[0]]
    a = node.attrs
    return (e.qp(node.name) != e.qp(x.name) and node.shape[2:] == (1, 1) and a.kernel == x.shape[2:]
            and not any(a.padding))


def _fused_clamp(e: Emitter, graph: Graph, node: Node, users: dict[str, list[str]], absorbed: set[str],
                 lower: Callable[[Emitter, Node, str, int | None, int | None], Lowered]) -> Lowered:
    """``lower(e, node, output, qmin, qmax)`` with a following exact clamp activation (relu), when
    it is the node's only reader, computed by the layer's last rescale/requant."""
    out, qmin, qmax = node.name, None, None
    if len(users[node.name]) == 1 and node.name not in graph.outputs:
        nxt = users[node.name][0]
        clamp = clamp_of(e.view, nxt)
        if clamp is not None:
            out, (qmin, qmax) = nxt, clamp
            absorbed.add(nxt)
    return lower(e, node, out, qmin, qmax)
