"""Suite-wide settings: property tests draw the same examples on every run (deterministic CI)."""

from hypothesis import settings

settings.register_profile("aics", derandomize=True, deadline=None)
settings.load_profile("aics")
