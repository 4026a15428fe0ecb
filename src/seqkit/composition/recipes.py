"""Registrations of `seqkit.recipes` in the container."""

from __future__ import annotations

from seqkit.runtime import DependencyContainer


def register_recipes(container: DependencyContainer) -> None:
    """Register the recipes component's factories, families and CLI commands."""
