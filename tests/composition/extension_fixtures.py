"""Entry-point targets for the extension loader tests (loaded by real EntryPoint objects)."""

from __future__ import annotations

from seqkit.runtime import DependencyContainer


class Marker:
    def __init__(self, origin: str) -> None:
        self.origin = origin


def good(container: DependencyContainer) -> None:
    container.register(Marker, lambda _: Marker("good"), key="good")


def bad(container: DependencyContainer) -> None:
    raise ValueError("the bad extension is broken")


def exits(container: DependencyContainer) -> None:
    container.register(Marker, lambda _: Marker("exits"), key="exits")
    raise SystemExit(3)


def wrong_type(container: DependencyContainer) -> None:
    container.register(Marker, lambda _: Marker("half"), key="half")
    container.register_instance(Marker, "not a marker", key="wrong")  # type: ignore[arg-type]
