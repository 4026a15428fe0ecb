"""Registrations of `seqkit.trainer` in the container."""

from __future__ import annotations

from seqkit.runtime import DependencyContainer


def register_trainer(container: DependencyContainer) -> None:
    """Register the trainer component's factories, families and CLI commands."""
