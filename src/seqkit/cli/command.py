"""What a CLI command is: registered in the container, run by :mod:`seqkit.cli.main`."""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class CliGroup:
    """A command group such as ``lm`` or ``assets``; register it keyed by its name."""

    name: str
    """The word users type: ``seqkit NAME COMMAND``."""

    help: str
    """One line shown by ``seqkit --help``."""


class CliCommand(ABC):
    """One ``seqkit [GROUP] NAME`` command.

    Register an instance keyed ``"GROUP.NAME"`` (or ``"NAME"`` for a top-level command)
    with ``container.register(CliCommand, factory, key=...)``.
    """

    group: str | None = None
    """The group this command belongs to, or ``None`` for a top-level command."""

    name: str
    """The command's word on the command line."""

    help: str
    """One line shown in the group's help."""

    description: str | None = None
    """A longer text for ``seqkit GROUP NAME --help``; defaults to :attr:`help`."""

    def configure(self, parser: argparse.ArgumentParser) -> None:  # noqa: B027 (optional hook)
        """Add this command's arguments to ``parser``."""

    @abstractmethod
    def run(self, args: argparse.Namespace) -> int:
        """Run the command and return the process exit status."""
