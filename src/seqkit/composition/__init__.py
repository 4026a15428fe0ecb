"""The composition root: the only code that wires concrete classes into the container."""

from __future__ import annotations

from seqkit.composition.builtins import register_builtins
from seqkit.composition.extensions import (
    ExtensionError,
    ExtensionReport,
    LoadedExtensions,
    load_extensions,
)
from seqkit.runtime import DependencyContainer


def create_container(*, load_extension_points: bool = True) -> DependencyContainer:
    """Build a container with every built-in registered, then let extensions add theirs."""
    container = DependencyContainer()
    register_builtins(container)
    if load_extension_points:
        loaded = load_extensions(container)
    else:
        loaded = LoadedExtensions(())
    container.register_instance(LoadedExtensions, loaded)
    return container


__all__ = [
    "ExtensionError",
    "ExtensionReport",
    "LoadedExtensions",
    "create_container",
    "load_extensions",
    "register_builtins",
]
