"""Built-in CLI commands that belong to no component (``seqkit extensions``)."""

from __future__ import annotations

import argparse

from seqkit.cli.command import CliCommand
from seqkit.composition.extensions import LoadedExtensions
from seqkit.runtime import DependencyContainer, DependencyResolver


class ExtensionsCommand(CliCommand):
    """``seqkit extensions``: what loaded, from which distribution, and what failed."""

    name = "extensions"
    help = "list the installed seqkit extensions and whether they loaded"

    def __init__(self, resolver: DependencyResolver) -> None:
        self._resolver = resolver

    def run(self, args: argparse.Namespace) -> int:
        reports = self._resolver.resolve(LoadedExtensions).reports
        if not reports:
            print("No extensions installed (entry-point group 'seqkit.extensions').")
            return 0
        failed = 0
        for report in reports:
            origin = report.distribution or "unknown distribution"
            if report.loaded:
                print(f"loaded  {report.name}  ({report.target}, {origin})")
            else:
                failed += 1
                print(f"FAILED  {report.name}  ({report.target}, {origin})")
                print(f"        {report.error}")
        return 1 if failed else 0


def register_core_cli(container: DependencyContainer) -> None:
    """Register the commands that belong to the composition root itself."""
    container.register(CliCommand, ExtensionsCommand, key="extensions")
