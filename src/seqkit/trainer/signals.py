"""Turning SIGTERM/SIGINT into a request to checkpoint and stop after the current step."""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Final

_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)


class GracefulStop:
    """While entered, the first SIGTERM/SIGINT sets :attr:`requested`; a second one interrupts.

    Cluster schedulers send SIGTERM before killing a job; finishing the step and
    checkpointing loses nothing. Outside the main thread signals cannot be handled, so the
    context does nothing there.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.requested = False
        self.signal_name: str | None = None
        self._enabled = enabled and threading.current_thread() is threading.main_thread()
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: stopping now")
        self.requested = True
        self.signal_name = signal.Signals(signum).name

    def __enter__(self) -> GracefulStop:
        if self._enabled:
            for signum in _SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()
