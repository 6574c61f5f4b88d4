"""Quantization: int8 / int16 PTQ with calibration observers, fixed-point Qm.n, per-layer mixed
precision plans and QAT, all producing an IR graph whose ``Graph.quant`` annotates every tensor.

``quantize_graph(graph, calib, plan)`` is PTQ on any IR graph (PyTorch or ONNX origin);
``prepare_qat`` / ``export_qat`` wrap QAT around an nn.Module; ``load_subject`` and
``quantize_subject`` are the ``aics quantize`` workflow with accuracies from the integer reference.
"""

from aics.compress.quant.annotate import annotate, node_schemes, range_owners
from aics.compress.quant.calibrate import calibrate
from aics.compress.quant.observers import OBSERVERS, MinMaxObserver, MseObserver, PercentileObserver
from aics.compress.quant.plan import QuantPlan, load_plan, plan_from_dict, save_plan
from aics.compress.quant.ptq import check_plan, quantize_graph
from aics.compress.quant.qat import QatModel, export_qat, prepare_qat, trained_float
from aics.compress.quant.scheme import Scheme, parse_scheme
from aics.compress.quant.workflow import QuantizeResult, Subject, graph_accuracy, load_subject, quantize_subject

__all__ = [
    "OBSERVERS", "MinMaxObserver", "MseObserver", "PercentileObserver", "QatModel", "QuantPlan",
    "QuantizeResult", "Scheme", "Subject", "annotate", "calibrate", "check_plan", "export_qat", "graph_accuracy",
    "load_plan", "load_subject", "node_schemes", "parse_scheme", "plan_from_dict", "prepare_qat",
    "quantize_graph", "quantize_subject", "range_owners", "save_plan", "trained_float",
]
