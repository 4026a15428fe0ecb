"""Errors of the data pipeline (:mod:`seqkit.data`)."""

from __future__ import annotations

from seqkit.errors import SeqkitError


class DataError(SeqkitError):
    """Base class of the data component's errors."""


class DataPipelineError(DataError, RuntimeError):
    """An operator of a pipeline failed; the message names the operator and the example.

    The original exception (for example one raised by a ``map`` callable) is the
    ``__cause__``. The pipeline is then broken until ``reset()`` or ``load_state_dict()``.
    """

    def __init__(self, message: str, *, operator: str | None, example_index: int) -> None:
        super().__init__(message)
        self.operator = operator
        """The operator that failed (``"map"``, ``"read_text"``...), if known."""
        self.example_index = example_index
        """0-based index of the example the pipeline was producing."""


class DataPipelineStateError(DataError, ValueError):
    """A saved state does not fit the pipeline it is loaded into."""


class DataReadError(DataError, OSError):
    """A data file is missing, unreadable or malformed; the message names the file."""


class DataWriteError(DataError, OSError):
    """A dataset cannot be written (the target exists, or a file operation failed)."""


class CollateError(DataError, ValueError):
    """Examples of a batch cannot be collated together."""
