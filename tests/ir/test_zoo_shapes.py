"""Every zoo model imports into the IR, and the IR's inferred shapes equal PyTorch's, node by node."""

import pytest
import torch
from torch.fx.passes.shape_prop import ShapeProp

from aics import zoo
from aics.ir.torch_import import import_traced
from aics.ir.verify import verify
from aics.models import load_torch


@pytest.mark.parametrize("name", sorted(zoo.MODELS))
def test_ir_shapes_equal_pytorch(name):
    tm = load_torch(name)
    graph, gm, tensors = import_traced(tm.module, tm.input_shape, tm.input_dtype, name)
    verify(graph)
    x = tm.example_input()
    with torch.no_grad():
        ShapeProp(gm).propagate(x)
        expected = tm.module(x)
    checked = 0
    for node in gm.graph.nodes:
        meta = node.meta.get("tensor_meta")
        if node.name in tensors and hasattr(meta, "shape"):
            assert graph[tensors[node.name]].shape == tuple(meta.shape), node.name
            checked += 1
    assert checked >= 3
    outs = expected if isinstance(expected, tuple) else (expected,)
    assert [graph[o].shape for o in graph.outputs] == [tuple(o.shape) for o in outs]
