"""Errors of the command-line layer."""

from __future__ import annotations

from seqkit.errors import SeqkitError


class CliUsageError(SeqkitError):
    """The command line is wrong in a way argparse cannot see (e.g. conflicting flags)."""
