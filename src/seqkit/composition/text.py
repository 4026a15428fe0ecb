"""Registrations of `seqkit.text` in the container."""

from __future__ import annotations

from seqkit.runtime import DependencyContainer


def register_text(container: DependencyContainer) -> None:
    """Register the text component's factories, families and CLI commands."""
