"""Structured pruning that removes channels physically, plus unstructured AGP sparsity.

Layout (like Torch-Pruning's dependency/ and pruner/ folders, one concept per file):
layout.py / tracer.py / matmul.py  channel ids through every IR op;  dependency.py  groups;
plan.py / apply.py / rewrite.py    plans as data and their replay;  importance.py / lasso.py
criteria;  select.py / pruner.py / netadapt.py / latency.py / dlp_latency.py  budgets, schedules and the
simulated-DLP latency lookup table;
sparsity.py / sparse_format.py  AGP masks and sparse storage;  checkpoint_io.py  pruned checkpoints.
"""

from aics.compress.prune.apply import apply_plan
from aics.compress.prune.dependency import DependencyGraph, Group, Member
from aics.errors import PruneError
from aics.compress.prune.importance import BNScale, Importance, L1, L2, Norm, Random, Taylor, slimming_penalty
from aics.compress.prune.lasso import Lasso, reconstruct
from aics.compress.prune.dlp_latency import SimulatedLatency
from aics.compress.prune.latency import LatencyModel, MacProxyLatency
from aics.compress.prune.netadapt import netadapt
from aics.compress.prune.plan import PrunePlan
from aics.compress.prune.pruner import PruneResult, prune_iterative, prune_step
from aics.compress.prune.select import Budget

__all__ = [
    "BNScale", "Budget", "DependencyGraph", "Group", "Importance", "L1", "L2", "LatencyModel", "Lasso",
    "MacProxyLatency", "Member", "Norm", "PruneError", "PrunePlan", "PruneResult", "Random", "SimulatedLatency", "Taylor",
    "apply_plan", "netadapt", "prune_iterative", "prune_step", "reconstruct", "slimming_penalty",
]
