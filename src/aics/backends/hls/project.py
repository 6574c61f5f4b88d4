"""Assemble a quantized IR graph into a self-contained C99 HLS project, and write it.

``build_project`` does all the work in memory (every node is checked and emitted first, so an op
the backend cannot emit is reported with its node before anything is written); ``write_project``
then puts the files in OUTDIR. Files: ``aics_top.c`` (one function per layer and the top
function ``aics_top(in, out)``), ``aics_top.h``, ``aics_weights.h`` (const arrays),
``aics_kernels.h`` and ``aics_tb.c`` (hand-written, copied from ``templates/``) and a Makefile.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from aics.backends.hls import elementwise as E
from aics.backends.hls import weighted as Wt
from aics.backends.hls.cgen import Buf, c_ident, code_ctype, dims_text
from aics.backends.hls.layer import Layer, LayerCtx
from aics.errors import AicsError, UnsupportedOpError
from aics.ir.graph import Graph, Node
from aics.ir.quant import QuantParams
from aics.reference.int_ops import compute_mode
from aics.reference.qtensor import QuantView
from aics.reference.functions import UNARY

TEMPLATES = Path(__file__).parent / "templates"
STATIC_FILES = ("aics_kernels.h", "aics_tb.c")
CFLAGS = "-std=c99 -O2 -Wall -Wextra -Werror"

Emitter = Callable[[LayerCtx], Layer]
EMITTERS: dict[str, Emitter] = {
    "conv2d": Wt.conv2d, "conv_transpose2d": Wt.conv_transpose2d, "linear": Wt.linear,
    **{op: E.unary for op in UNARY},
    "max_pool2d": E.max_pool2d, "avg_pool2d": E.avg_pool2d, "adaptive_avg_pool2d": E.adaptive_avg_pool2d,
    "add": E.add_sub, "sub": E.add_sub, "reshape": E.reshape,
}


@dataclass(frozen=True)
class EmittedLayer:
    node: Node
    layer: Layer
    const_bits: int  # weights, biases, multipliers, tables
    out: Buf


@dataclass(frozen=True)
class HlsProject:
    graph: Graph
    files: dict[str, str]  # file name -> contents
    layers: tuple[EmittedLayer, ...]
    input: Buf
    output: Buf


def ctype_of(qp: QuantParams) -> str:
    if qp.dtype == "fixed":
        assert qp.fixed is not None
        return code_ctype(qp.fixed.width)
    return f"{qp.dtype}_t"


def describe(qp: QuantParams) -> str:
    """The numeric type in words; fixed point in its HLS spelling (only this writer spells it)."""
    if qp.dtype == "fixed":
        assert qp.fixed is not None
        f = qp.fixed
        return f"codes of {f.ap_type()} (Q{f.int_bits}.{f.frac}, {f.overflow}, {f.rounding})"
    return f"{qp.dtype} codes, scale {qp.scale[0]:.9g}, zero point {qp.zero_point[0]}"


def describe_quant(graph: Graph) -> str:
    """The activations' schemes in ``aics quantize`` spelling, e.g. ``int8`` or ``fixed:Q2.6:wrap:trn``."""
    names = set()
    for node in graph.nodes:
        qp = graph.quant.get(node.name)
        if qp is None or node.op == "const":
            continue
        f = qp.fixed
        names.add(qp.dtype if f is None else f"fixed:Q{f.int_bits}.{f.frac}:{f.overflow}:{f.rounding}")
    return "+".join(sorted(names))


def _buf(graph: Graph, view: QuantView, name: str, node: Node, cname: str) -> Buf:
    qp = view.qp(name)
    if qp is None:
        raise UnsupportedOpError(f"HLS backend: tensor '{name}' (read by node '{node.name}') is not "
                                 "quantized; quantize the model (int8 or fixed point) first")
    shape = graph[name].shape
    if not shape or shape[0] != 1:
        raise UnsupportedOpError(f"HLS backend: tensor '{name}' has shape {list(shape)}; only batch 1 is emitted")
    return Buf(cname, shape[1:] or (1,), ctype_of(qp), qp)


def build_project(graph: Graph) -> HlsProject:
    """Emit every layer of ``graph`` (quantized, batch 1, one input, one output) in memory."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedOpError(f"HLS backend: graph '{graph.name}' must have one input and one output "
                                 f"(has {len(graph.inputs)} and {len(graph.outputs)})")
    view = QuantView(graph)
    src, dst = graph.inputs[0], graph[graph.outputs[0]]
    bufs = {src.name: _buf(graph, view, src.name, src, "in")}
    emitted: list[EmittedLayer] = []
    consts: dict[str, str] = {}
    for node in graph.nodes:
        if node.op in ("input", "const"):
            continue
        emitter = EMITTERS.get(node.op)
        where = f" ({node.source})" if node.source else ""
        if emitter is None:
            raise UnsupportedOpError(f"HLS backend cannot emit op '{node.op}' of node '{node.name}'{where}")
        if compute_mode(node, view) == "float":
            raise UnsupportedOpError(f"HLS backend cannot emit node '{node.name}' ({node.op}){where}: it computes "
                                     "in float (unquantized or mixed representations)")
        fn = f"L{len(emitted)}_{c_ident(node.name)}"
        out = _buf(graph, view, node.name, node, "out" if node.name == dst.name else f"t_{fn}")
        ins = [bufs[i] for i in node.inputs if graph[i].op != "const"]
        ctx = LayerCtx(node, fn, ins, out, view)
        layer = emitter(ctx)
        consts.update(ctx.consts)
        bufs[node.name] = out
        emitted.append(EmittedLayer(node, layer, sum(ctx.const_bits.values()), out))
    if dst.name not in bufs or dst.op == "input":
        raise UnsupportedOpError(f"HLS backend: graph output '{dst.name}' is not computed by a layer")
    files = {"aics_top.h": _top_header(graph, bufs[src.name], bufs[dst.name]),
             "aics_weights.h": _weights_header(graph, consts),
             "aics_top.c": _top_source(graph, emitted, bufs),
             "Makefile": _makefile()}
    for name in STATIC_FILES:
        files[name] = (TEMPLATES / name).read_text()
    return HlsProject(graph, files, tuple(emitted), bufs[src.name], bufs[dst.name])


def _top_header(graph: Graph, src: Buf, dst: Buf) -> str:
    return "\n".join([
        "/* Generated by aics: the top function of the HLS C project of model "
        f"'{graph.name}'. */",
        "#ifndef AICS_TOP_H", "#define AICS_TOP_H", "", "#include <stdint.h>", "",
        f"typedef {src.ctype} aics_in_t; /* {describe(src.qp)}, shape {list(src.dims)} */",
        f"typedef {dst.ctype} aics_out_t; /* {describe(dst.qp)}, shape {list(dst.dims)} */",
        f"#define AICS_IN_SIZE {src.size}", f"#define AICS_OUT_SIZE {dst.size}", "",
        "void aics_top(aics_in_t in[AICS_IN_SIZE], aics_out_t out[AICS_OUT_SIZE]);", "",
        "#endif /* AICS_TOP_H */", ""])


def _weights_header(graph: Graph, consts: dict[str, str]) -> str:
    return "\n\n".join([
        f"/* Generated by aics: constants of model '{graph.name}' (weights, biases, requantization\n"
        " * multipliers and shifts, lookup tables), read-only on chip (ROM / BRAM). */\n"
        "#ifndef AICS_WEIGHTS_H\n#define AICS_WEIGHTS_H\n\n#include <stdint.h>",
        *consts.values(), "#endif /* AICS_WEIGHTS_H */\n"])


def _arg(buf: Buf) -> str:
    """How ``aics_top`` passes a tensor: its buffer, or the flat top-level port cast to its shape."""
    if buf.name not in ("in", "out") or len(buf.dims) == 1:
        return buf.name
    return f"({buf.ctype} (*){dims_text(buf.dims[1:])}){buf.name}"


def _top_source(graph: Graph, emitted: list[EmittedLayer], bufs: dict[str, Buf]) -> str:
    lines = [f"/* Generated by aics: HLS C of model '{graph.name}', one function per layer. */",
             "/* The C compiler of the simulation ignores the HLS pragmas; say so once, not per pragma. */",
             "#if defined(__GNUC__) && !defined(__SYNTHESIS__)",
             '#pragma GCC diagnostic ignored "-Wunknown-pragmas"', "#endif",
             '#include "aics_top.h"', '#include "aics_kernels.h"', '#include "aics_weights.h"', ""]
    for e in emitted:
        src = f" ({e.node.source})" if e.node.source else ""
        lines += [f"/* {e.node.name}: {e.node.op}{src} -> {list(e.out.dims)}, {describe(e.out.qp)} */",
                  *e.layer.lines, ""]
    lines += ["void aics_top(aics_in_t in[AICS_IN_SIZE], aics_out_t out[AICS_OUT_SIZE]) {",
              "#pragma HLS INTERFACE mode=bram port=in", "#pragma HLS INTERFACE mode=bram port=out"]
    lines += [f"    static {e.out.param(e.out.name)};" for e in emitted if e.out.name != "out"]
    for e in emitted:
        args = [_arg(bufs[i]) for i in e.node.inputs if graph[i].op != "const"] + [_arg(e.out)]
        lines.append(f"    {e.layer.lines[0].split('(')[0].split()[-1]}({', '.join(args)});")
    return "\n".join([*lines, "}", ""])


def _makefile() -> str:
    return "\n".join([
        "# Generated by aics: builds the C simulation testbench (pragmas are ignored by the C compiler).",
        "CC ?= cc", f"CFLAGS ?= {CFLAGS}", "", "aics_tb: aics_top.c aics_tb.c aics_top.h aics_weights.h aics_kernels.h",
        "\t$(CC) $(CFLAGS) -o $@ aics_top.c aics_tb.c", "", "clean:", "\trm -f aics_tb", "",
        ".PHONY: clean", ""])


def check_outdir(outdir: Path, force: bool) -> None:
    """Refuse an existing, non-empty ``outdir`` unless ``force`` (whose old contents are replaced)."""
    if outdir.exists() and (not outdir.is_dir() or any(outdir.iterdir())) and not force:
        raise AicsError(f"output directory '{outdir}' exists and is not empty (use --force to replace it)")


def write_project(project: HlsProject, outdir: Path, force: bool = False) -> list[Path]:
    """Write the project's files into ``outdir``; a non-empty existing ``outdir`` needs ``force``."""
    check_outdir(outdir, force)
    try:
        if outdir.exists() and force:
            shutil.rmtree(outdir) if outdir.is_dir() else outdir.unlink()
        outdir.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, text in project.files.items():
            (outdir / name).write_text(text)
            paths.append(outdir / name)
    except OSError as err:
        raise AicsError(f"cannot write HLS project to '{outdir}': {err.strerror or err}") from None
    return paths
