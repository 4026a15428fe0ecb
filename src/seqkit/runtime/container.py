"""A small typed dependency-injection container.

Only the composition root (:mod:`seqkit.composition`) and extensions touch it; every
component receives its collaborators as constructor arguments.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, cast, final

from seqkit.errors import SeqkitError
from seqkit.runtime.errors import (
    DependencyCycleError,
    DependencyFactoryError,
    DependencyNotFoundError,
    DependencyTypeError,
    describe_dependency,
)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class DependencyResolver(Protocol):
    """What a factory receives: read-only access to the container."""

    def resolve(self, kind: type[T], key: str | None = None) -> T:
        """Return the instance registered for ``kind`` (and ``key``); raise if there is none."""
        ...

    def resolve_optional(self, kind: type[T], key: str | None = None) -> T | None:
        """Like :meth:`resolve`, but return ``None`` when nothing is registered."""
        ...

    def resolve_all(self, kind: type[T]) -> list[tuple[str, T]]:
        """Every keyed registration of ``kind`` as ``(key, instance)``, in registration order."""
        ...


Factory = Callable[[DependencyResolver], T]


@dataclass
class _Registration:
    factory: Callable[[DependencyResolver], object]
    singleton: bool
    instance: object = None
    created: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


@final
class DependencyContainer(DependencyResolver):
    """Holds factories keyed by ``(type, key)`` and builds instances on demand.

    A later registration for the same ``(type, key)`` replaces the earlier one (so an
    extension can override a built-in) but keeps its position in :meth:`resolve_all`.
    Singletons are created once even when several threads resolve them at the same time.
    """

    def __init__(self) -> None:
        self._registrations: dict[type[object], dict[str | None, _Registration]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def register(
        self,
        kind: type[T],
        factory: Callable[[DependencyResolver], T],
        *,
        key: str | None = None,
        singleton: bool = True,
    ) -> None:
        """Register ``factory`` as the way to build ``kind`` (under ``key``, if given)."""
        registration = _Registration(factory=factory, singleton=singleton)
        with self._lock:
            self._registrations.setdefault(kind, {})[key] = registration

    def register_instance(self, kind: type[T], instance: T, *, key: str | None = None) -> None:
        """Register an already built ``instance`` of ``kind``."""
        if not _is_instance(instance, kind):
            raise DependencyTypeError(describe_dependency(kind, key), instance)
        registration = _Registration(
            factory=lambda _: instance, singleton=True, instance=instance, created=True
        )
        with self._lock:
            self._registrations.setdefault(kind, {})[key] = registration

    def is_registered(self, kind: type[object], key: str | None = None) -> bool:
        """Whether a registration exists for ``kind`` and ``key``."""
        with self._lock:
            return key in self._registrations.get(kind, {})

    def resolve(self, kind: type[T], key: str | None = None) -> T:
        registration = self._find(kind, key)
        if registration is None:
            raise DependencyNotFoundError(describe_dependency(kind, key), self._path())
        return self._build(kind, key, registration)

    def resolve_optional(self, kind: type[T], key: str | None = None) -> T | None:
        registration = self._find(kind, key)
        if registration is None:
            return None
        return self._build(kind, key, registration)

    def resolve_all(self, kind: type[T]) -> list[tuple[str, T]]:
        with self._lock:
            keyed = [(k, r) for k, r in self._registrations.get(kind, {}).items() if k is not None]
        return [(k, self._build(kind, k, r)) for k, r in keyed]

    def _find(self, kind: type[object], key: str | None) -> _Registration | None:
        with self._lock:
            return self._registrations.get(kind, {}).get(key)

    def _path(self) -> list[str]:
        stack: list[str] = getattr(self._local, "stack", [])
        return list(stack)

    def _build(self, kind: type[T], key: str | None, registration: _Registration) -> T:
        if registration.singleton and registration.created:
            return cast(T, registration.instance)

        name = describe_dependency(kind, key)
        stack: list[str] = self._local.__dict__.setdefault("stack", [])
        if name in stack:
            raise DependencyCycleError([*stack, name])

        stack.append(name)
        try:
            if not registration.singleton:
                return cast(T, self._checked(kind, name, self._call(registration, stack), stack))
            # Another thread may be creating the same singleton; the lock makes it wait.
            # Cycles are caught above, before the lock, so a thread never waits on itself.
            with registration.lock:
                if not registration.created:
                    built = self._call(registration, stack)
                    registration.instance = self._checked(kind, name, built, stack)
                    registration.created = True
                return cast(T, registration.instance)
        finally:
            stack.pop()

    def snapshot(self) -> dict[type[object], dict[str | None, object]]:
        """The registrations as they are now, for :meth:`restore` (extension isolation)."""
        with self._lock:
            return {kind: dict(regs) for kind, regs in self._registrations.items()}

    def restore(self, snapshot: dict[type[object], dict[str | None, object]]) -> None:
        """Put back the registrations of a :meth:`snapshot`, dropping any made since."""
        with self._lock:
            self._registrations = {
                kind: cast(dict[str | None, _Registration], dict(regs))
                for kind, regs in snapshot.items()
            }

    @staticmethod
    def _checked(kind: type[object], name: str, built: object, stack: list[str]) -> object:
        if not _is_instance(built, kind):
            raise DependencyTypeError(name, built, stack)
        return built

    def _call(self, registration: _Registration, stack: list[str]) -> object:
        try:
            return registration.factory(self)
        except SeqkitError:
            raise
        except Exception as ex:
            raise DependencyFactoryError(list(stack), ex) from ex


def _is_instance(obj: object, kind: type[object]) -> bool:
    """``isinstance`` where it can be decided (not for non-runtime protocols or generics)."""
    try:
        return isinstance(obj, kind)
    except TypeError:
        return True
