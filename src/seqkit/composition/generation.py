"""Registrations of `seqkit.generation` in the container."""

from __future__ import annotations

from seqkit.generation.config import GeneratorFactory
from seqkit.runtime import DependencyContainer


def register_generation(container: DependencyContainer) -> None:
    """Register the factory that turns a ``GeneratorConfig`` into a generator."""
    container.register(GeneratorFactory, lambda _: GeneratorFactory())
