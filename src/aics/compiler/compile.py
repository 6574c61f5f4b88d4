"""Graph -> DLP program: passes, fusion plan, lowering of every layer, DRAM layout, I/O descriptors.

``compile_graph(qgraph, arch)`` takes a quantized graph (``aics.compress.quant``) and returns a
``Compiled``: the ``Program`` (the executable: code, DRAM image, I/O descriptors with their
quantisation, layer names by tag) and per-layer facts (MACs, compulsory DRAM bytes) for reports.

Scope today (see the module docstrings of ``lower``): int8 conv2d (any stride, padding,
dilation, groups), linear, max/avg pooling, global average pooling, LUT activations, add/sub,
concat, slice, permute (DMA copies), free reshapes; exact clamp activations fused into the
conv/linear/add epilogues and residual adds fused into the conv epilogue
(``passes.fuse_epilogue``). Anything else (float or mixed-precision layers such as an unfolded
batch_norm, conv_transpose2d, mul, expand, ...) is refused with a ``CompileError`` naming the node
and its op: there is no host-CPU fallback yet.

Several cores (``arch.cores``): every layer's tiles are shared out in contiguous shares (conv:
output-channel tiles first, so each core streams its own weights), each core loads its own
resident tables, and a ``sync`` on every core ends each layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from aics.compiler.lower.common import DTYPES, Emitter, LayerInfo, Lowered, numel
from aics.compiler.lower.movement import lower_concat, lower_identity_average, lower_permute, lower_slice
from aics.compiler.lower.vector import lower_add, lower_global_avg, lower_lut, lower_pool
from aics.compiler.lower.weighted import lower_conv, lower_linear
from aics.compiler.passes.fuse_epilogue import FusionPlan, clamp_of, plan_epilogues
from aics.compiler.pipeline import QUANT_PIPELINE, PassRecord, optimize
from aics.dlp.arch import Arch
from aics.dlp.program import Program, TensorDesc, arch_fingerprint
from aics.errors import CompileError
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


def compile_graph(graph: Graph, arch: Arch) -> Compiled:
    """Compile a quantized ``graph`` for ``arch`` (batch 1, int8)."""
    if not graph.quant:
        raise CompileError(f"graph '{graph.name}' is not quantized: the compiler lowers int8 graphs "
                           f"(fp32 programs are not implemented yet); quantize it first")
    graph, records = optimize(graph, QUANT_PIPELINE)
    view = Q.QuantView(graph)
    fusion = plan_epilogues(graph)
    e = Emitter(graph, arch, view, consts=dict(quantized_consts(graph)))
    lowered, alias = _lower_all(e, graph, fusion)
    for node in graph.inputs:
        e.addr[node.name] = e.image.place(node.name, numel(node.shape))
    for low in lowered:
        e.addr[low.output] = e.image.place(low.output, numel(graph[low.output].shape))
    for name, target in alias.items():
        e.addr[name] = e.addr[target]
    for low in lowered:
        low.emit(e)
        e.end_layer()
        e.info.macs, e.info.compulsory_bytes = low.macs, low.compulsory_bytes
    program = Program(code=tuple(tuple(c) for c in e.code), arch_name=arch.name,
                      arch_fingerprint=arch_fingerprint(arch),
                      dram=bytes(e.image.data), dram_size=e.image.size, symbols=dict(e.image.symbols),
                      inputs=tuple(_desc(e, n.name, n.name) for n in graph.inputs),
                      outputs=tuple(_desc(e, o, o) for o in graph.outputs),
                      layers={info.tag: info.name for info in e.layers})
    return Compiled(program, graph, tuple(e.layers), records, fusion)


def _desc(e: Emitter, name: str, tensor: str) -> TensorDesc:
    node = e.graph[tensor]
    qp = e.qp(tensor)
    a = Q.affine(qp)
    return TensorDesc(name, e.addr[tensor], node.shape, DTYPES[qp.dtype], float(a.scale), int(a.zero_point))


def _lower_all(e: Emitter, graph: Graph, fusion: FusionPlan) -> tuple[list[Lowered], dict[str, str]]:
    absorbed = {name for epi in fusion.values() for name in epi.absorbed}
    users = graph.users()
    lowered: list[Lowered] = []
    alias: dict[str, str] = {}
    for node in graph.nodes:
        if node.op in ("input", "const") or node.name in absorbed:
            continue
        mode = compute_mode(node, e.view)
        if mode != "int":
            raise CompileError(f"node '{node.name}' ({node.op}) computes in {mode} numerics: only int8 layers "
                               f"lower to the DLP (host-CPU fallback is not implemented)")
        if node.op == "conv2d":
            lowered.append(lower_conv(e, node, fusion[node.name]))
        elif node.op == "linear":
            lowered.append(lower_linear(e, node, fusion[node.name]))
        elif node.op == "avg_pool2d" and _global_avg(e, node):
            lowered.append(lower_global_avg(e, node))
        elif node.op in ("max_pool2d", "avg_pool2d"):
            lowered.append(lower_pool(e, node))
        elif node.op == "adaptive_avg_pool2d" and node.shape == graph[node.inputs[0]].shape:
            lowered.append(lower_identity_average(e, node))
        elif node.op in ("adaptive_avg_pool2d", "mean"):
            lowered.append(lower_global_avg(e, node))
        elif node.op in UNARY:
            lowered.append(lower_lut(e, node))
        elif node.op in ("add", "sub"):
            lowered.append(_fused_add(e, graph, node, users, absorbed))
        elif node.op == "concat":
            lowered.append(lower_concat(e, node))
        elif node.op == "slice":
            lowered.append(lower_slice(e, node))
        elif node.op == "permute":
            lowered.append(lower_permute(e, node))
        elif node.op == "reshape" and e.qp(node.name) == e.qp(node.inputs[0]):
            alias[node.name] = alias.get(node.inputs[0], node.inputs[0])
        else:
            raise CompileError(f"node '{node.name}': op '{node.op}' has no DLP lowering yet "
                               f"(host-CPU fallback is not implemented)")
    return lowered, alias  # an output that is a reshape view is described at its target's bytes


def _global_avg(e: Emitter, node: Node) -> bool:
    """An avg_pool2d with other output params whose one window covers the whole input (no padding):
    the reference's RQ average (TFLite MEAN), the same recipe as a global average."""
    x = e.graph[node.inputs[0]]
    a = node.attrs
    return (e.qp(node.name) != e.qp(x.name) and node.shape[2:] == (1, 1) and a.kernel == x.shape[2:]
            and not any(a.padding))


def _fused_add(e: Emitter, graph: Graph, node: Node, users: dict[str, list[str]], absorbed: set[str]) -> Lowered:
    """add/sub with a following exact clamp activation (residual add + relu) in its last rescale."""
    out, qmin, qmax = node.name, None, None
    if len(users[node.name]) == 1 and node.name not in graph.outputs:
        nxt = users[node.name][0]
        clamp = clamp_of(e.view, nxt)
        if clamp is not None:
            out, (qmin, qmax) = nxt, clamp
            absorbed.add(nxt)
    return lower_add(e, node, out, qmin, qmax)
