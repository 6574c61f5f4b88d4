"""The pruning error type (kept beside the package until ``aics.errors`` grows a home for it)."""

from __future__ import annotations

from aics.errors import AicsError


class PruneError(AicsError):
    """A pruning request that cannot be met: an unreachable target, a plan for another model."""
