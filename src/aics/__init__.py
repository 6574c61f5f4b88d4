"""aics: carry a neural network from PyTorch or ONNX to a deep-learning processor.

Data flow, bottom to top: ``ir`` (graph IR, importers) -> ``zoo`` (model definitions) ->
``analysis`` (counts) -> ``compress`` (pruning, quantization, distillation) -> ``compiler``
(passes, lowering) -> ``dlp`` (arch, ISA, assembler, simulators) -> ``reference`` (numpy golden
executor) -> ``backends.hls`` -> ``viz`` -> ``cli``.
"""

__version__ = "0.1.0"
