"""Channel selection by LASSO regression and least-squares reconstruction (He et al., ICCV 2017).

For a group, sample the inputs of every layer that consumes its channels and write that layer's
output as a sum of per-channel contributions, Y = sum_c beta_c Z_c. A LASSO on beta selects
channels: the later a class's coefficient leaves zero along the regularisation path (the larger the
alpha at which it is still non-zero), the more important it is. That ordering serves any budget.
After the plan is applied, ``reconstruct`` refits each consumer's weights by least squares so its
output on the pruned network's inputs matches the original network's output.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aics.compress.prune.dependency import Group
from aics.compress.prune.importance import Importance, L1
from aics.compress.prune.plan import PrunePlan

if TYPE_CHECKING:
    from aics.compress.prune.dependency import DependencyGraph


def _patches(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(N*L, Cin, k*k) input patches of a conv (or (N*..., I, 1) rows of a linear)."""
    if isinstance(module, nn.Conv2d):
        cols = F.unfold(x, module.kernel_size, module.dilation, module.padding, module.stride)
        n, _, length = cols.shape
        k = module.kernel_size[0] * module.kernel_size[1]
        return cols.view(n, x.shape[1], k, length).permute(0, 3, 1, 2).reshape(n * length, x.shape[1], k)
    return x.reshape(-1, x.shape[-1], 1)


def _weight3(module: nn.Module) -> torch.Tensor:
    """Weight as (O, Cin, k*k)."""
    w = module.weight.detach()
    return w.reshape(w.shape[0], w.shape[1], -1)


def _capture_inputs(model: nn.Module, names: list[str], inputs: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    got: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    modules = dict(model.named_modules())
    handles = [modules[n].register_forward_pre_hook(lambda m, a, n=n: got[n].append(a[0].detach())) for n in names]
    try:
        with torch.no_grad():
            for x in inputs:
                model(x)
    finally:
        for h in handles:
            h.remove()
    return {n: torch.cat(v) for n, v in got.items() if v}


def _sample(rows: int, count: int, seed: int) -> np.ndarray:
    if rows <= count:
        return np.arange(rows)
    return np.sort(np.random.default_rng(seed).choice(rows, count, replace=False))


class Lasso(Importance):
    """Score = the largest alpha on the LASSO path at which the class's coefficient is non-zero."""

    name = "lasso"

    def __init__(self, inputs: list[torch.Tensor], samples: int = 400, seed: int = 0) -> None:
        self.inputs, self.samples, self.seed = inputs, samples, seed
        self.features: dict[str, torch.Tensor] = {}
        self.modules: dict[str, nn.Module] = {}

    def prepare(self, dep: "DependencyGraph") -> None:
        self.modules = dict(dep.gm.named_modules())
        consumers = sorted({m.module for g in dep.groups for m in g.role("in")
                            if isinstance(self.modules.get(m.module), (nn.Conv2d, nn.Linear))
                            and getattr(self.modules[m.module], "groups", 1) == 1})
        self.features = _capture_inputs(dep.gm, consumers, self.inputs)

    def __call__(self, group: Group) -> np.ndarray:
        from sklearn.linear_model import lasso_path

        cols, target = [], []
        for m in group.role("in"):
            if m.module not in self.features:
                continue
            module = self.modules[m.module]
            p = _patches(module, self.features[m.module])
            p = p[torch.as_tensor(_sample(p.shape[0], self.samples, self.seed))]
            contrib = torch.einsum("sck,ock->cso", p, _weight3(module)).reshape(p.shape[1], -1)  # (Cin, S*O)
            z = torch.zeros(group.size, contrib.shape[1], dtype=contrib.dtype)
            z.index_add_(0, torch.as_tensor(m.classes), contrib)
            cols.append(z)
            target.append(contrib.sum(0))
        if not cols:
            return L1()(group)
        z = torch.cat(cols, 1).T.double().numpy()
        y = torch.cat(target).double().numpy()
        scale = np.linalg.norm(z, axis=0) + 1e-12
        with warnings.catch_warnings():  # the path's small-alpha end may stop short of tolerance: fine for ranking
            warnings.simplefilter("ignore")
            alphas, coefs, _ = lasso_path(z / scale, y, n_alphas=40, eps=1e-4, max_iter=2000)
        alive = np.abs(coefs) > 1e-10  # (classes, alphas), alphas descending
        first = np.where(alive.any(1), alive.argmax(1), len(alphas))
        # earlier entry (larger alpha) = more important; ties broken by the least-squares end weight
        return (len(alphas) - first) + np.abs(coefs[:, -1]) / (np.abs(coefs[:, -1]).max() + 1e-12)


def reconstruct(pruned: nn.Module, original: nn.Module, plan: PrunePlan, inputs: list[torch.Tensor],
                samples: int = 2000, ridge: float = 1e-6, seed: int = 0) -> list[str]:
    """Refit, by least squares, every conv/linear (groups=1) whose input channels the plan removed,
    so that on the pruned network's own inputs it reproduces the original layer's output; layers
    are refit in order so later ones see earlier corrections. Returns the refit layer names."""
    keeps = plan.keeps()
    modules, orig = dict(pruned.named_modules()), dict(original.named_modules())
    names = [n for n, m in modules.items() if (f"{n}.weight", 1) in keeps and isinstance(m, (nn.Conv2d, nn.Linear))
             and getattr(m, "groups", 1) == 1 and n in orig]
    if not names:
        return []
    originals = _capture_inputs(original, names, inputs)
    for name in names:
        module, source = modules[name], orig[name]
        x_new = _capture_inputs(pruned, [name], inputs)[name]
        p_new, p_old = _patches(module, x_new), _patches(source, originals[name])
        rows = torch.as_tensor(_sample(p_new.shape[0], samples, seed))
        a = p_new[rows].reshape(len(rows), -1).double()
        y = torch.einsum("sck,ock->so", p_old[rows], _weight3(source)).double()
        out_keep = keeps.get((f"{name}.weight", 0))
        if out_keep is not None:
            y = y[:, list(out_keep)]
        gram = a.T @ a + ridge * torch.eye(a.shape[1], dtype=a.dtype) * a.pow(2).sum() / max(a.shape[0], 1)
        w = torch.linalg.solve(gram, a.T @ y).T  # (O', Cin'*k)
        with torch.no_grad():
            module.weight.copy_(w.reshape(module.weight.shape).to(module.weight.dtype))
    return names
