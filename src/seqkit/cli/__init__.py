"""The ``seqkit`` command line: commands are registered in the container."""

from __future__ import annotations

from seqkit.cli.command import CliCommand, CliGroup
from seqkit.cli.errors import CliUsageError

__all__ = ["CliCommand", "CliGroup", "CliUsageError"]
