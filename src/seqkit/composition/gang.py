"""Registrations of `seqkit.gang` in the container."""

from __future__ import annotations

from seqkit.runtime import DependencyContainer


def register_gang(container: DependencyContainer) -> None:
    """Register the gang component's factories, families and CLI commands."""
