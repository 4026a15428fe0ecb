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
