"""FPGA backend: a quantized IR graph (int8 or fixed point) as a self-contained C99 HLS project,
verified bit for bit against the integer reference by C simulation, with a per-layer estimate.

``build_project`` emits in memory (one C function per layer, by the op -> emitter table
``EMITTERS``), ``write_project`` writes it, ``csim`` compiles and runs it, ``estimate`` reads
latency and resources off its pragmas; ``prepare.prepare_graph`` quantizes what a user names.
"""

from aics.backends.hls.csim import CsimResult, csim, seeded_inputs
from aics.backends.hls.estimate import Estimate, estimate
from aics.backends.hls.project import EMITTERS, HlsProject, build_project, check_outdir, write_project

__all__ = ["EMITTERS", "CsimResult", "Estimate", "HlsProject", "build_project", "check_outdir", "csim",
           "estimate", "seeded_inputs", "write_project"]
