"""Errors raised by :mod:`seqkit.nn` when a batch or a cache is used the wrong way."""

from __future__ import annotations

from seqkit.errors import SeqkitError


class BatchLayoutError(SeqkitError, ValueError):
    """A :class:`~seqkit.nn.BatchLayout` does not fit the batch it describes."""


class IncrementalStateError(SeqkitError, ValueError):
    """Incremental decoding went past the cache or mixed incompatible batches."""
