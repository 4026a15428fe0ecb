"""Registrations of `seqkit.data` in the container."""

from __future__ import annotations

from seqkit.runtime import DependencyContainer


def register_data(container: DependencyContainer) -> None:
    """Register the data component's factories, families and CLI commands."""
