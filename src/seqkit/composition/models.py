"""Registrations of `seqkit.models` in the container."""

from __future__ import annotations

from seqkit.runtime import DependencyContainer


def register_models(container: DependencyContainer) -> None:
    """Register the models component's factories, families and CLI commands."""
