"""Host-CPU fallback: a layer the DLP cannot run becomes a ``host`` instruction.

Which layers: nodes that compute in float numerics (``aics.reference.int_ops.compute_mode``:
local response norm, div, LSTM/GRU, bilinear resize, layers kept float by mixed precision, ...)
and ops that have no DLP lowering. The DLP writes the layer's inputs to DRAM as usual; at the
``host`` barrier the host CPU reads them, runs the layer and writes its output to DRAM, and the
cores go on.

What the host runs is the layer's own IR, stored in the program as the host op's payload (a
graph of the node, its constants, and one input node per tensor it reads, every tensor carrying
the full graph's quantization), executed by the integer reference (``host_runtime``). So host
layers are bit-exact by construction, and ``aics run`` needs nothing but the program file.

Cost (the arch file's ``[host]``: a roofline of ``gflops`` and ``bandwidth_gbps``)::

    seconds = max(flops / gflops, (bytes in + bytes out + weight bytes) / bandwidth)
    cycles  = ceil(seconds * DLP frequency)

with flops = 2 * MACs + the other arithmetic of ``aics.analysis.rules``. The cores wait for that
time at the barrier (the timing model adds it; reports show it as the layer's ``host`` busy time).
"""

from __future__ import annotations

import json
from math import ceil

import numpy as np

from aics.analysis.rules import RULES
from aics.compiler.lower.common import Emitter, Lowered, describe
from aics.dlp.arch import Arch
from aics.dlp.isa import HostCall
from aics.dlp.program import HostOp
from aics.ir.graph import Graph, Node
from aics.ir.quant import QuantParams
from aics.ir.serialize import to_dict
from aics.reference import qtensor as Q

FLOAT = QuantParams("float32")


def payload(graph: Graph, node: Node, view: Q.QuantView) -> Graph:
    """The graph the host runs for ``node``: its constants, an input per tensor it reads, itself."""
    nodes, params, quant = [], {}, {}
    for name in dict.fromkeys(node.inputs):
        src = graph[name]
        if src.op == "const":
            nodes.append(src)
            params[name] = graph.params[name]
            if name in graph.quant:
                quant[name] = graph.quant[name]
        else:
            from aics.ir.attrs import NoAttrs

            nodes.append(Node(name, "input", (), NoAttrs(), src.shape, src.dtype, src.source))
            quant[name] = view.qp(name) or FLOAT
    nodes.append(node)
    quant[node.name] = view.qp(node.name) or FLOAT
    return Graph(f"{graph.name}:{node.name}", tuple(nodes), (node.name,), params, quant)


def host_cycles(graph: Graph, node: Node, arch: Arch, nbytes: int) -> int:
    ins = [graph[i] for i in node.inputs]
    macs, mults, adds, other = RULES[node.op](node, ins) if node.op in RULES else (0, 0, 0, 0)
    flops = 2 * macs + (mults - macs) + (adds - macs if macs else adds) + other
    seconds = max(max(flops, 0) / (arch.host.gflops * 1e9), nbytes / (arch.host.bandwidth_gbps * 1e9))
    return max(1, ceil(seconds * arch.frequency_ghz * 1e9))


def lower_host(e: Emitter, node: Node, why: str) -> Lowered:
    """``node`` on the host CPU (``why``: the reason, kept in the host op's name for reports)."""
    graph = e.graph
    sub = payload(graph, node, e.view)
    text = json.dumps(to_dict(sub), sort_keys=True)
    runtime = [i for i in dict.fromkeys(node.inputs) if graph[i].op != "const"]
    weights = 0 if node.op == "embedding" else sum(  # a lookup reads only the rows it outputs
        int(np.asarray(graph.params[i]).nbytes) for i in dict.fromkeys(node.inputs) if graph[i].op == "const")

    def emit(e: Emitter) -> None:
        e.begin(node.name, node.op)
        ins = tuple(describe(e, i, i) for i in runtime)
        out = describe(e, node.name, node.name)
        nbytes = sum(d.nbytes for d in ins) + out.nbytes + weights
        index = len(e.host_ops)
        e.host_ops.append(HostOp(f"{node.name} ({node.op}: {why})", text, ins, (out,)))
        cycles = host_cycles(graph, node, e.arch, nbytes)
        for k in range(e.arch.cores):  # a barrier: every core meets it
            e.code[k].append(HostCall(tag=e.tag, op=index, cycles=cycles))

    return Lowered(node, node.name, emit)
