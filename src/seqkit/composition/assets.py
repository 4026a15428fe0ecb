"""Registrations of `seqkit.assets` in the container."""

from __future__ import annotations

from seqkit.runtime import DependencyContainer


def register_assets(container: DependencyContainer) -> None:
    """Register the assets component's factories, families and CLI commands."""
