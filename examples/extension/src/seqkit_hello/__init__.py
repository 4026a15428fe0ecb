"""An example seqkit extension: one CLI command and one directory of asset cards."""

from __future__ import annotations

import argparse
from pathlib import Path

from seqkit.cli import CliCommand, CliGroup
from seqkit.runtime import DependencyContainer

CARD_DIR = Path(__file__).parent / "cards"


class GreetCommand(CliCommand):
    """``seqkit hello greet NAME``."""

    group = "hello"
    name = "greet"
    help = "print a greeting (proves that the extension's command is wired in)"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("who", help="whom to greet")

    def run(self, args: argparse.Namespace) -> int:
        print(f"Hello, {args.who}! (from the seqkit-hello extension)")
        return 0


def register(container: DependencyContainer) -> None:
    """Entry point of group ``seqkit.extensions``: called once by ``seqkit.setup()``."""
    from seqkit.assets import register_card_directory

    container.register_instance(
        CliGroup, CliGroup(name="hello", help="example extension"), key="hello"
    )
    container.register(CliCommand, lambda _: GreetCommand(), key="hello.greet")
    register_card_directory(container, "seqkit-hello", CARD_DIR)
