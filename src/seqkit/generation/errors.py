"""Errors raised by :mod:`seqkit.generation`."""

from __future__ import annotations

from seqkit.errors import SeqkitError


class GenerationError(SeqkitError, ValueError):
    """A generator, sampler or scorer was given arguments it cannot work with.

    The message names the argument, the offending value and how to fix it.
    """
