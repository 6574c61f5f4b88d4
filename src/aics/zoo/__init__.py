"""The model zoo: the architectures of the course seeds, our own definitions, no pretrained weights.

``MODELS`` maps each zoo name to its ``ZooEntry``; ``get(name)`` looks one up with suggestions.
"""

from __future__ import annotations

from aics.zoo.registry import ZooEntry, lookup

_MODULES: tuple[str, ...] = (
    "lenet", "mlp", "autoencoder", "alexnet", "vgg", "googlenet", "resnet", "res2net", "densenet",
    "squeezenet", "mobilenet", "shufflenet", "transformer", "rnn", "digits_resnet", "cnn1d",
)


def _gather() -> dict[str, ZooEntry]:
    import importlib

    models: dict[str, ZooEntry] = {}
    for mod_name in _MODULES:
        for entry in importlib.import_module(f"aics.zoo.{mod_name}").ENTRIES:
            if entry.name in models:
                raise RuntimeError(f"zoo name {entry.name!r} registered twice")
            models[entry.name] = entry
    return models


MODELS: dict[str, ZooEntry] = _gather()


def get(name: str) -> ZooEntry:
    return lookup(MODELS, name)


__all__ = ["MODELS", "ZooEntry", "get"]
