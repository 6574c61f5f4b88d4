"""Export a quantized IR graph as an ONNX QDQ model, for cross-checking with ONNX Runtime.

Every integer tensor ``t`` becomes ``QuantizeLinear -> t__q (int8) -> DequantizeLinear -> t``
around the float op that produces it, with the very scales and zero points of ``Graph.quant``;
weights are int8 initializers with per-axis ``DequantizeLinear``, biases int32 initializers with
scale ``s_in * s_w`` (the codes of ``aics.reference.bias_codes``). ONNX Runtime fuses these
patterns into its integer kernels (QLinearConv, QGemm, QLinearAdd, ...), so its outputs are an
independent implementation of the same quantized network. Graph outputs are the int8 codes.

Only the ops of small CNNs / MLPs are mapped (conv, linear on 2-D inputs, relu, sigmoid, tanh,
add, sub, mul, pools, global average pool, reshape, concat); others raise ``UnsupportedOpError``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from aics.errors import UnsupportedOpError
from aics.ir.graph import Graph, Node
from aics.ir.quant import QuantParams
from aics.reference.int_ops import bias_codes
from aics.reference.qtensor import QuantView

_SIMPLE = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "add": "Add", "sub": "Sub", "mul": "Mul"}
OPSET = 13


class _Builder:
    def __init__(self, graph: Graph) -> None:
        self.graph, self.view = graph, QuantView(graph)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.emitted: set[str] = set()

    def init(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def qparams(self, name: str, qp: QuantParams, zp_dtype: type = np.int8) -> tuple[str, str]:
        scale: np.ndarray = np.asarray(qp.scale, dtype=np.float32)
        zp: np.ndarray = np.asarray(qp.zero_point, dtype=zp_dtype)
        if not qp.per_channel:
            scale, zp = scale.reshape(()), zp.reshape(())
        return self.init(f"{name}__scale", scale), self.init(f"{name}__zp", zp)

    def qdq(self, src: str, name: str, qp: QuantParams) -> None:
        """``src`` (float) -> Q -> ``name__q`` -> DQ -> ``name``."""
        s, z = self.qparams(name, qp)
        self.nodes.append(helper.make_node("QuantizeLinear", [src, s, z], [f"{name}__q"]))
        self.nodes.append(helper.make_node("DequantizeLinear", [f"{name}__q", s, z], [name]))

    def const(self, name: str, idx: int, consumer: Node) -> None:
        if name in self.emitted:
            return
        self.emitted.add(name)
        qp = self.view.qp(name)
        if idx == 2:  # bias: int32 codes with scale s_in * s_w per channel
            codes = bias_codes(consumer, self.view)
            x_qp, w_qp = self.view.qp(consumer.inputs[0]), self.view.qp(consumer.inputs[1])
            assert codes is not None and x_qp is not None and w_qp is not None
            scales = (x_qp.scale[0] * np.asarray(w_qp.scale, dtype=np.float64)).astype(np.float32)
            qp = QuantParams("int32", tuple(map(float, scales)), (0,) * len(scales), 0 if len(scales) > 1 else None)
            data = codes.astype(np.int32)
            zp_dtype: type = np.int32
        else:
            if qp is None:
                raise UnsupportedOpError(f"const '{name}' has no quantization parameters")
            data, zp_dtype = self.view.const(name).astype(np.int8), np.int8
        s, z = self.qparams(name, qp, zp_dtype)
        attrs: dict[str, Any] = {"axis": qp.axis} if qp.per_channel else {}
        self.nodes.append(helper.make_node("DequantizeLinear", [self.init(f"{name}__q", data), s, z], [name], **attrs))

    def op(self, node: Node) -> None:
        a, ins, out = node.attrs, list(node.inputs), f"{node.name}__f"
        if node.op == "conv2d":
            top, bottom, left, right = a.padding
            kernel = list(self.graph[ins[1]].shape[2:])
            onnx_node = helper.make_node("Conv", ins, [out], pads=[top, left, bottom, right], strides=list(a.stride),
                                         dilations=list(a.dilation), group=a.groups, kernel_shape=kernel)
        elif node.op == "linear":
            if len(self.graph[ins[0]].shape) != 2:
                raise UnsupportedOpError(f"linear '{node.name}' on a rank-{len(self.graph[ins[0]].shape)} input")
            onnx_node = helper.make_node("Gemm", ins, [out], transB=1)
        elif node.op in ("max_pool2d", "avg_pool2d"):
            top, bottom, left, right = a.padding
            kw: dict[str, Any] = dict(kernel_shape=list(a.kernel), strides=list(a.stride),
                                      pads=[top, left, bottom, right], ceil_mode=int(a.ceil_mode))
            if node.op == "avg_pool2d":
                kw["count_include_pad"] = int(a.count_include_pad)
            else:
                kw["dilations"] = list(a.dilation)
            onnx_node = helper.make_node("MaxPool" if node.op == "max_pool2d" else "AveragePool", ins, [out], **kw)
        elif node.op == "adaptive_avg_pool2d" and a.output_size == (1, 1):
            onnx_node = helper.make_node("GlobalAveragePool", ins, [out])
        elif node.op == "reshape":
            shape = self.init(f"{node.name}__shape", np.asarray(a.shape, dtype=np.int64))
            onnx_node = helper.make_node("Reshape", [ins[0], shape], [out])
        elif node.op == "concat":
            onnx_node = helper.make_node("Concat", ins, [out], axis=a.axis)
        elif node.op in _SIMPLE:
            onnx_node = helper.make_node(_SIMPLE[node.op], ins, [out])
        else:
            raise UnsupportedOpError(f"QDQ export has no mapping for op '{node.op}' (node '{node.name}')")
        self.nodes.append(onnx_node)
        qp = self.view.qp(node.name)
        assert qp is not None
        self.qdq(out, node.name, qp)


def to_qdq_onnx(graph: Graph) -> onnx.ModelProto:
    """The QDQ ONNX model of an int8-annotated graph (see the module docstring)."""
    b = _Builder(graph)
    inputs = []
    for node in graph.nodes:
        if node.op == "input":
            qp = b.view.qp(node.name)
            assert qp is not None
            inputs.append(helper.make_tensor_value_info(f"{node.name}__in", TensorProto.FLOAT, list(node.shape)))
            b.qdq(f"{node.name}__in", node.name, qp)
        elif node.op != "const":
            for idx, name in enumerate(node.inputs):
                if graph[name].op == "const":
                    b.const(name, idx, node)
            b.op(node)
    outputs = [helper.make_tensor_value_info(f"{o}__q", TensorProto.INT8, list(graph[o].shape)) for o in graph.outputs]
    model = helper.make_model(helper.make_graph(b.nodes, graph.name, inputs, outputs, b.inits),
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
