"""Registrations of `seqkit.data` in the container: the ``data`` CLI group and
``seqkit data inspect``."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from typing_extensions import override

from seqkit.cli.command import CliCommand, CliGroup
from seqkit.data import load_token_index
from seqkit.runtime import DependencyContainer


class InspectTokensCommand(CliCommand):
    """``seqkit data inspect DIR``: summarize a token dataset (read_tokens format)."""

    group = "data"
    name = "inspect"
    help = "summarize a token dataset: dtype, documents, tokens, document lengths"

    @override
    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("path", type=Path, help="a token dataset directory")

    @override
    def run(self, args: argparse.Namespace) -> int:
        root: Path = args.path
        parts = [root / "source", root / "target"] if (root / "source").is_dir() else [root]
        for part in parts:
            info = load_token_index(part)
            offsets = np.fromfile(part / "offsets.bin", dtype="<u8")
            lengths = np.diff(offsets) if len(offsets) > 1 else np.zeros(1, dtype=np.uint64)
            print(
                f"{part}: {info.dtype}, {info.num_documents} documents, {info.num_tokens} tokens; "
                f"document length mean {float(lengths.mean()):.1f}, max {int(lengths.max())}"
            )
        return 0


def register_data(container: DependencyContainer) -> None:
    """Register the ``data`` command group and ``seqkit data inspect``."""
    if not container.is_registered(CliGroup, "data"):
        container.register_instance(
            CliGroup, CliGroup(name="data", help="prepare and inspect datasets"), key="data"
        )
    container.register(CliCommand, lambda _: InspectTokensCommand(), key="data.inspect")
