"""Quantization-aware training on the nn.Module, exported to the same quantized IR as PTQ.

1. Trace the model with the IR importer's tracer and fold each conv/linear + batch norm pair
   (eval statistics, frozen from here on: the integer model has no BN either).
2. Import the folded module to the IR and calibrate it (``calibrate``) for initial ranges.
3. Fake-quantize: weights of conv / linear layers through a parametrization
   (``WeightFakeQuant``), and after every fx node whose IR tensor owns activation params an
   ``ActFakeQuant`` whose EMA range starts at the calibrated one.
4. Train (``aics.train.train``), then export: the trained weights go into the IR graph's params,
   the EMA ranges replace the calibrated ones, and ``annotate`` builds ``Graph.quant`` exactly as
   PTQ does; weights land on the grids training used.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Mapping

import numpy as np
from torch import fx, nn
from torch.nn.utils import parametrize
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from aics.compress.quant.annotate import Range, annotate, node_schemes, range_owners
from aics.compress.quant.calibrate import Runner, calibrate
from aics.compress.quant.fake_quant import ActFakeQuant, WeightFakeQuant
from aics.compress.quant.plan import QuantPlan
from aics.compress.quant.ptq import check_plan
from aics.errors import QuantizationError
from aics.ir.graph import Graph
from aics.ir.torch_import import import_traced

_WEIGHT_AXIS = {nn.Conv2d: 0, nn.Linear: 0, nn.ConvTranspose2d: 1}
_FQ_PREFIX = "aics_fq_"


@dataclass
class QatModel:
    """The module to train and what export needs: the float IR and its calibrated ranges."""

    module: fx.GraphModule  # the fake-quantized module to train
    float_module: fx.GraphModule  # the BN-folded float module it was made from (left untrained)
    graph: Graph  # float IR of float_module; its const names are the module's state_dict keys
    ranges: Mapping[str, Range]
    plan: QuantPlan


def prepare_qat(model: nn.Module, input_shape: tuple[int, ...], calib: np.ndarray, plan: QuantPlan,
                run: Runner | None = None) -> QatModel:
    """Fold BN, calibrate, insert fake quant (see module docstring). ``model`` is not modified."""
    _, gm, _ = import_traced(copy.deepcopy(model).eval(), input_shape)
    _fold_bn_modules(gm)
    graph, float_gm, tensors = import_traced(gm, input_shape, name=type(model).__name__)
    check_plan(graph, plan)
    ranges = calibrate(graph, calib, plan, run)
    gm = copy.deepcopy(float_gm)
    schemes = node_schemes(graph, plan)
    owners = range_owners(graph, schemes)
    fx_of = {ir: fx_name for fx_name, ir in tensors.items()}
    nodes = {n.name: n for n in gm.graph.nodes}
    for i, owner in enumerate(sorted({o for o in owners.values() if o in fx_of})):
        scheme = schemes[owner]
        if scheme.kind == "float" or (scheme.kind == "int" and owner not in ranges):
            continue
        name = f"{_FQ_PREFIX}{i}"
        gm.add_module(name, ActFakeQuant(owner, scheme, *ranges.get(owner, (0.0, 0.0))))
        node = nodes[fx_of[owner]]
        readers = list(node.users)
        with gm.graph.inserting_after(node):
            fq = gm.graph.call_module(name, (node,))
        for r in readers:
            r.replace_input_with(node, fq)
    for target, module in list(gm.named_modules()):
        axis = _WEIGHT_AXIS.get(type(module))
        if axis is not None and target in schemes and schemes[target].kind != "float":
            parametrize.register_parametrization(module, "weight", WeightFakeQuant(schemes[target], axis))
    gm.recompile()
    return QatModel(gm, float_gm, graph, ranges, plan)


def trained_float(qat: QatModel) -> fx.GraphModule:
    """A copy of the BN-folded float module carrying the QAT module's trained (raw) weights."""
    state = {k.replace(".parametrizations.weight.original", ".weight"): v
             for k, v in qat.module.state_dict().items() if not k.startswith(_FQ_PREFIX)}
    module = copy.deepcopy(qat.float_module)
    module.load_state_dict(state, strict=True)
    return module


def export_qat(qat: QatModel) -> Graph:
    """The quantized IR of a trained ``QatModel`` (the module itself is left as it is)."""
    state = {k: v.detach().numpy() for k, v in trained_float(qat).state_dict().items()}
    missing = [n for n in qat.graph.params if n not in state and qat.graph[n].attrs.trainable]
    if missing:
        raise QuantizationError(f"QAT export: no trained value for IR constants {missing[:3]}")
    params = {name: (state[name].astype(np.float32) if name in state else arr)
              for name, arr in qat.graph.params.items()}
    ranges = dict(qat.ranges)
    ranges.update({m.ir_name: m.range for m in qat.module.modules() if isinstance(m, ActFakeQuant)})
    return annotate(qat.graph.with_nodes(qat.graph.nodes, params=params), ranges, qat.plan)


def _fold_bn_modules(gm: fx.GraphModule) -> None:
    """conv/linear -> batch norm pairs become one module (eval statistics); the BN node goes."""
    modules = dict(gm.named_modules())
    for node in list(gm.graph.nodes):
        bn = modules.get(str(node.target)) if node.op == "call_module" else None
        if not isinstance(bn, (nn.BatchNorm1d, nn.BatchNorm2d)) or not bn.track_running_stats:
            continue
        prev = node.args[0]
        layer = modules.get(str(prev.target)) if isinstance(prev, fx.Node) and prev.op == "call_module" else None
        if len(prev.users) != 1 or not isinstance(layer, (nn.Conv2d, nn.Linear)):
            continue
        fused = fuse_conv_bn_eval(layer, bn) if isinstance(layer, nn.Conv2d) else fuse_linear_bn_eval(layer, bn)
        parent, _, leaf = str(prev.target).rpartition(".")
        setattr(gm.get_submodule(parent) if parent else gm, leaf, fused)
        node.replace_all_uses_with(prev)
        gm.graph.erase_node(node)
    gm.recompile()
