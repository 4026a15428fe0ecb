"""Registrations of `seqkit.config` in the container."""

from __future__ import annotations

from seqkit.runtime import DependencyContainer


def register_config(container: DependencyContainer) -> None:
    """Register the config component's factories, families and CLI commands."""
