"""Registrations of `seqkit.generation` in the container."""

from __future__ import annotations

from seqkit.runtime import DependencyContainer


def register_generation(container: DependencyContainer) -> None:
    """Register the generation component's factories, families and CLI commands."""
