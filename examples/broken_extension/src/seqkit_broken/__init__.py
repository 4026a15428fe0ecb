"""A seqkit extension that fails on purpose when it is registered."""

from __future__ import annotations

from seqkit.runtime import DependencyContainer


def register(container: DependencyContainer) -> None:
    """Fail the way a real extension with a bug would."""
    raise RuntimeError("seqkit-broken always fails to register (this is a test fixture)")
