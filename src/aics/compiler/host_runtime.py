"""The host side of a program: runs its host ops (``lower.host``) with the integer reference.

``HostRuntime()`` is the ``host`` callable of ``aics.dlp.sim.run``. Each op's payload is the IR
of one layer (JSON); it is parsed and prepared once per runtime, then run on the codes the DLP
left in DRAM, exactly as the integer reference runs that layer inside the whole network.
"""

from __future__ import annotations

import json

import numpy as np

from aics.dlp.program import HostOp
from aics.errors import ProgramFormatError
from aics.ir.serialize import from_dict
from aics.reference.executor import Executor


class HostRuntime:
    """Executes host ops; prepared layers are kept per payload for repeated runs."""

    def __init__(self) -> None:
        self._prepared: dict[str, Executor] = {}

    def __call__(self, op: HostOp, inputs: list[np.ndarray]) -> list[np.ndarray]:
        executor = self._prepared.get(op.payload)
        if executor is None:
            try:
                graph = from_dict(json.loads(op.payload), where=f"host op '{op.name}'")
            except ValueError as err:
                raise ProgramFormatError(f"host op '{op.name}': payload is not an IR graph: {err}") from None
            executor = self._prepared[op.payload] = Executor(graph, "int")
        names = [n.name for n in executor.graph.inputs]
        outs = executor.run(dict(zip(names, inputs, strict=True)))
        return [np.asarray(o).astype(d.dtype.numpy, copy=False) for o, d in zip(outs, op.outputs, strict=True)]
