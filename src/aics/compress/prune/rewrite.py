"""Rewrite the shape constants of a traced forward after its tensors shrank.

fx bakes Python ints into the graph: ``reshape(b, n, 3, self.heads, self.head_dim)``,
``torch.split(x, self.width, 1)``, ``x.chunk(2, 1)``. After pruning, those sizes are wrong, which
is why pruning tools that keep the user's class fail on attention heads and split widths. We know
every tensor's new shape from the pruned IR, so each such call gets its new sizes (batch-like
dimensions that did not change keep their dynamic expressions).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import fx

from aics.errors import PruneError
from aics.ir.graph import Graph

RESHAPES = frozenset({"view", "reshape", "expand"})


def _is_split(n: fx.Node) -> bool:
    if n.op == "call_method":
        return n.target in ("split", "chunk")
    return n.op == "call_function" and n.target in (torch.split, torch.chunk)


def _is_reshape(n: fx.Node) -> bool:
    return (n.op == "call_method" and n.target in RESHAPES) or (n.op == "call_function" and n.target is torch.reshape)


def _rewrite_reshape(n: fx.Node, old: tuple[int, ...], new: tuple[int, ...]) -> None:
    packed = len(n.args) == 2 and isinstance(n.args[1], (tuple, list))
    sizes: list[Any] = list(n.args[1] if packed else n.args[1:])
    if len(sizes) != len(new):
        raise PruneError(f"cannot rewrite the sizes of '{n.name}' ({n.target}) after pruning")
    for k, (o, s) in enumerate(zip(old, new)):
        if o != s and not (isinstance(sizes[k], int) and sizes[k] == -1):
            sizes[k] = s
    n.args = (n.args[0], tuple(sizes)) if packed or n.op == "call_function" else (n.args[0], *sizes)


def _rewrite_split(n: fx.Node, old_ir: Graph, new_ir: Graph) -> None:
    parts = []
    while f"{n.name}.{len(parts)}" in new_ir:
        parts.append(f"{n.name}.{len(parts)}")
    if not parts:
        return
    axis = old_ir[parts[0]].attrs.axis
    new_sizes = [new_ir[p].shape[axis] for p in parts]
    if new_sizes == [old_ir[p].shape[axis] for p in parts]:
        return
    if n.op == "call_method":
        n.target = "split"
    else:
        n.target = torch.split
    n.args, n.kwargs = (n.args[0], new_sizes), {"dim": axis}


def rewrite_forward(gm: fx.GraphModule, old_ir: Graph, new_ir: Graph, fxmap: dict[str, str]) -> None:
    """Edit ``gm``'s graph in place so its forward produces ``new_ir``'s shapes."""
    for n in gm.graph.nodes:
        if _is_split(n):
            _rewrite_split(n, old_ir, new_ir)
        elif _is_reshape(n):
            ir = fxmap.get(n.name)
            if ir is not None and ir in new_ir and old_ir[ir].op in ("reshape", "expand"):
                if old_ir[ir].shape != new_ir[ir].shape:
                    _rewrite_reshape(n, old_ir[ir].shape, new_ir[ir].shape)
    gm.graph.lint()
    gm.recompile()
