"""Errors raised by `seqkit.checkpoint`."""

from __future__ import annotations

from pathlib import Path

from seqkit.errors import SeqkitError


class CheckpointError(SeqkitError):
    """A checkpoint cannot be written or restored; the message names the directory and the fix."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class CorruptCheckpointError(CheckpointError):
    """A committed checkpoint fails verification (missing file, wrong size or sha256)."""
