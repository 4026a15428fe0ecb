"""Generic dependency-injection machinery used by the composition root."""

from __future__ import annotations

from seqkit.runtime.container import DependencyContainer, DependencyResolver, Factory
from seqkit.runtime.errors import (
    DependencyCycleError,
    DependencyError,
    DependencyFactoryError,
    DependencyNotFoundError,
    DependencyTypeError,
)

__all__ = [
    "DependencyContainer",
    "DependencyCycleError",
    "DependencyError",
    "DependencyFactoryError",
    "DependencyNotFoundError",
    "DependencyResolver",
    "DependencyTypeError",
    "Factory",
]
