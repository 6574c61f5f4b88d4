"""A small deterministic training loop and the accuracy helper every compression step reports.

Determinism: each call forks torch's RNG, seeds it, turns on deterministic algorithms and sets the
thread count, and restores all of that on exit, so callers' global torch state is untouched and
the same config gives bit-identical weights. One thread is the default: on a shared 2-core box a
second thread makes these tiny models slower, not faster.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from aics.data import Split, check_arrays, make_loader
from aics.errors import AicsError, DataError, ModelError

if TYPE_CHECKING:
    from aics.checkpoint import Checkpoint

OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 20
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 2e-3
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0
    seed: int = 0
    threads: int = 1
    shift: float = 1 / 16  # random translation of training images by up to this fraction of their side

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise AicsError(f"unknown optimizer '{self.optimizer}' (choose from {', '.join(OPTIMIZERS)})")
        if self.epochs < 0 or self.batch_size < 1 or self.lr <= 0:
            raise AicsError(f"bad training settings: epochs={self.epochs}, batch size={self.batch_size}, "
                            f"lr={self.lr}")


@dataclass(frozen=True)
class TrainResult:
    accuracy: float  # on the test set, a fraction in [0, 1]
    train_accuracy: float
    losses: tuple[float, ...]  # mean training loss per epoch
    seconds: float

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "losses": list(self.losses)}


@contextmanager
def deterministic(seed: int, threads: int = 1) -> Iterator[None]:
    """Seeded, deterministic torch inside the block; the caller's RNG and settings come back after."""
    was_det, was_threads = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was_det)
            torch.set_num_threads(was_threads)


Loss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # (x, y, logits) -> loss


def train(model: nn.Module, split: Split, config: TrainConfig = TrainConfig(), progress: bool = True,
          description: str = "train", loss: Loss | None = None,
          after_step: Callable[[int], None] | None = None, on_epoch: Callable[[int], None] | None = None,
          extra_params: nn.Module | None = None) -> TrainResult:
    """Train ``model`` in place with a cosine learning-rate decay; the result carries test and train
    accuracy. ``progress`` shows a bar on a terminal (never when piped).

    Hooks for compression: ``loss`` replaces cross-entropy (distillation), ``after_step(step)``
    runs after each optimiser step (sparsity masks), ``on_epoch(epoch)`` after each epoch (with the
    model in eval mode), and ``extra_params`` (e.g. distillation adapters) train alongside."""
    check_arrays(split.x_train, split.y_train, "training data")
    start = time.perf_counter()
    losses: list[float] = []
    with deterministic(config.seed, config.threads):
        loader = make_loader(split.x_train, split.y_train, config.batch_size, shuffle=True, seed=config.seed)
        trained = nn.ModuleList([model] + ([extra_params] if extra_params is not None else []))
        opt = _optimizer(trained, config)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, config.epochs * len(loader)))
        step = 0
        with _bar(progress) as bar:
            task = bar.add_task(description, total=config.epochs * len(loader))
            for epoch in range(config.epochs):
                trained.train()
                total, count = 0.0, 0
                for xb, yb in loader:
                    xb = _shift(xb, config.shift)
                    logits = model(xb)
                    value = F.cross_entropy(logits, yb) if loss is None else loss(xb, yb, logits)
                    opt.zero_grad(set_to_none=True)
                    value.backward()
                    opt.step()
                    sched.step()
                    step += 1
                    if after_step is not None:
                        after_step(step)
                    total, count = total + value.item() * len(xb), count + len(xb)
                    bar.update(task, advance=1, description=f"{description} loss {total / count:.4f}")
                losses.append(total / count)
                if on_epoch is not None:
                    model.eval()
                    on_epoch(epoch)
        model.eval()
        test_acc = evaluate(model, split.x_test, split.y_test)
        train_acc = evaluate(model, split.x_train, split.y_train)
    return TrainResult(test_acc, train_acc, tuple(losses), time.perf_counter() - start)


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class predictions of ``model`` (switched to eval mode) for the float32 inputs ``x``."""
    check_arrays(x, what="evaluation data")
    model.eval()
    preds = [model(torch.from_numpy(x[i:i + batch_size])).argmax(dim=-1).numpy()
             for i in range(0, len(x), batch_size)]
    return np.concatenate(preds)


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> float:
    """Top-1 accuracy as a fraction in [0, 1]."""
    return accuracy(predict(model, x, batch_size), y)


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    if len(labels) == 0 or len(predictions) != len(labels):
        raise DataError(f"cannot score {len(predictions)} predictions against {len(labels)} labels")
    return float(np.mean(np.asarray(predictions) == np.asarray(labels)))


def _check_forward(model: nn.Module, split: Split, name: str) -> None:
    """One forward pass on two examples, so a model that does not fit the data fails in one line."""
    try:
        with torch.no_grad():
            out = model.eval()(torch.from_numpy(split.x_train[:2]))
    except Exception as err:  # shape errors surface as RuntimeError, ValueError, ...
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"model '{name}' cannot run on {'x'.join(map(str, split.x_train.shape[1:]))} "
                         f"inputs: {first}") from None
    if out.dim() != 2 or out.shape[1] < int(split.y_train.max()) + 1:
        raise ModelError(f"model '{name}' outputs shape {list(out.shape)}: need (batch, classes >= "
                         f"{int(split.y_train.max()) + 1})")


def _shift(xb: torch.Tensor, fraction: float) -> torch.Tensor:
    """Translate each image of a (N, C, H, W) batch by a random offset of up to ``fraction`` of its
    side (2 pixels at 32x32, none at 8x8), filling with the border's background value; the digits
    are few, so this is the augmentation that matters (it stops LeNet-5 overfitting 1437 images)."""
    if xb.dim() != 4 or round(xb.shape[-1] * fraction) == 0:
        return xb
    pixels = round(xb.shape[-1] * fraction)
    n, _, h, w = xb.shape
    padded = torch.nn.functional.pad(xb, (pixels,) * 4, mode="replicate")
    offsets = torch.randint(0, 2 * pixels + 1, (n, 2))
    return torch.stack([padded[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(offsets.tolist())])


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, nesterov=True,
                               weight_decay=config.weight_decay)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def _bar(progress: bool) -> Progress:
    console = Console(stderr=True)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True, disable=not (progress and console.is_terminal))


def train_model(spec: str, data: str = "digits", config: TrainConfig = TrainConfig(),
                input_size: int | None = None, input_shape: tuple[int, ...] | None = None,
                progress: bool = True) -> tuple["Checkpoint", TrainResult]:
    """Build ``spec`` (a zoo name or ``file.py:factory``; ``.pt`` fine-tunes a checkpoint) with
    ``config.seed``, train it on ``data`` and return a self-describing checkpoint and the metrics.

    Zoo models whose constructor takes ``num_classes`` get the dataset's class count."""
    import inspect

    from aics import checkpoint, zoo
    from aics.data import NUM_CLASSES, load_dataset, load_digits
    from aics.models import load_torch

    kwargs: dict[str, object] = {}
    with deterministic(config.seed, config.threads):
        if spec.endswith(".pt"):
            ckpt = checkpoint.load(spec)
            module, name, kwargs, shape = ckpt.build(), ckpt.model, dict(ckpt.kwargs), ckpt.input_shape
            split = load_digits(ckpt.data) if ckpt.data else load_dataset(data, shape, input_size)
        else:
            if spec.rsplit(":", 1)[0].endswith(".py"):
                tm = load_torch(spec, input_shape)
                module, shape = tm.module, tm.input_shape
            else:
                entry = zoo.get(spec)
                if "num_classes" in inspect.signature(entry.factory).parameters:
                    kwargs["num_classes"] = NUM_CLASSES
                module, shape = entry.build(**kwargs), input_shape or entry.input_shape
            if input_size is not None and len(shape) == 4:
                shape = (*shape[:2], input_size, input_size)
            name = spec
            split = load_dataset(data, shape, input_size)
    _check_forward(module, split, name)
    result = train(module, split, config, progress)
    return checkpoint.from_module(name, module, shape, kwargs, split.config, result.to_dict()), result
