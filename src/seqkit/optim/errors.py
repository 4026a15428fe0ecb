"""Errors raised by `seqkit.optim`."""

from __future__ import annotations

from seqkit.errors import SeqkitError


class OptimConfigError(SeqkitError, ValueError):
    """An optimizer or LR scheduler config is invalid; the message names the field and the fix."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
