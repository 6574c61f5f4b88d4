"""Graph passes: each a pure function ``Graph -> Graph`` with its own tests."""

from aics.compiler.passes.fold_bn import fold_bn

__all__ = ["fold_bn"]
