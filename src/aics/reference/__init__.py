"""The numpy golden executor of IR graphs (no torch at run time).

``run(graph, inputs, numerics="float32" | "int")`` evaluates a graph; ``run_all`` returns every
intermediate tensor by node name; ``Executor`` prepares a graph once for many runs. Float32
follows PyTorch's definitions (``float_ops``); integer numerics follow ``Graph.quant`` with the
recipes tabulated in ``aics.reference.int_ops``, which the DLP simulator and HLS C reproduce.
"""

from aics.reference.executor import Executor, dequantize, run, run_all
from aics.reference.int_ops import bias_codes, compute_mode
from aics.reference.qtensor import quantized_consts

__all__ = ["Executor", "bias_codes", "compute_mode", "dequantize", "quantized_consts", "run", "run_all"]
