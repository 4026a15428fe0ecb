"""Errors raised by the dependency container."""

from __future__ import annotations

from collections.abc import Sequence

from seqkit.errors import SeqkitError


def describe_dependency(kind: type[object], key: str | None) -> str:
    """Render ``kind`` and ``key`` the way errors show them, e.g. ``ModelFamily['llama']``."""
    name = f"{kind.__module__}.{kind.__qualname__}"
    return name if key is None else f"{name}[{key!r}]"


def _render_path(path: Sequence[str]) -> str:
    return " -> ".join(path)


class DependencyError(SeqkitError):
    """Base class of the container's errors."""


class DependencyNotFoundError(DependencyError, LookupError):
    """No registration exists for the requested type and key."""

    def __init__(self, dependency: str, path: Sequence[str]) -> None:
        self.dependency = dependency
        self.path = list(path)
        where = f" (requested by {_render_path(self.path)})" if self.path else ""
        super().__init__(
            f"No registration for {dependency}{where}. Register a factory for it with "
            "DependencyContainer.register() in the composition root or an extension."
        )


class DependencyCycleError(DependencyError, RuntimeError):
    """Resolving a dependency required the dependency itself."""

    def __init__(self, path: Sequence[str]) -> None:
        self.path = list(path)
        super().__init__(
            f"Dependency cycle: {_render_path(self.path)}. Break the cycle by resolving one "
            "of these lazily or by passing the value explicitly."
        )


class DependencyFactoryError(DependencyError, RuntimeError):
    """A registered factory raised an exception that is not a seqkit error."""

    def __init__(self, path: Sequence[str], cause: BaseException) -> None:
        self.path = list(path)
        super().__init__(
            f"The factory of {self.path[-1]} failed (resolution path: "
            f"{_render_path(self.path)}): {type(cause).__name__}: {cause}"
        )


class DependencyTypeError(DependencyError, TypeError):
    """A registration gives an object that is not of the registered type."""

    def __init__(self, dependency: str, got: object, path: Sequence[str] = ()) -> None:
        self.path = list(path)
        where = f" (resolution path: {_render_path(self.path)})" if self.path else ""
        super().__init__(
            f"The registration of {dependency} gives a {type(got).__module__}."
            f"{type(got).__qualname__}, which is not a {dependency}{where}; register an "
            "instance (or a factory returning one) of the registered type."
        )
