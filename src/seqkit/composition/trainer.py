"""Registrations of `seqkit.trainer` (and its checkpoints) in the container.

``seqkit checkpoint list DIR`` shows every step directory under a run's checkpoint
directory, verifies each manifest (size and sha256 of every file) and names the one a
resume would pick, so a user can check a run before restarting it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seqkit.checkpoint import CorruptCheckpointError, read_manifest
from seqkit.checkpoint.manager import StandardCheckpointManager
from seqkit.cli.command import CliCommand, CliGroup
from seqkit.gang import FakeGang
from seqkit.runtime import DependencyContainer


class CheckpointListCommand(CliCommand):
    """``seqkit checkpoint list DIR``: verify the checkpoints of a run."""

    group = "checkpoint"
    name = "list"
    help = "list and verify the training checkpoints in a directory"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "directory", type=Path, help="a checkpoint directory (holding step_N/ directories)"
        )

    def run(self, args: argparse.Namespace) -> int:
        directory: Path = args.directory
        manager = StandardCheckpointManager(directory, FakeGang(), keep_last_n=None)
        steps = manager.committed_steps()
        leftovers = sorted(p.name for p in directory.glob("*.tmp")) if directory.is_dir() else []
        if not steps:
            print(f"No committed checkpoints in {directory}.")
        chosen: int | None = None
        for step in reversed(steps):
            path = manager.step_dir(step)
            try:
                manifest = read_manifest(path)
            except CorruptCheckpointError as ex:
                print(f"step {step}: CORRUPT ({ex})")
                continue
            mark = ""
            if chosen is None:
                chosen, mark = step, "  <- resume uses this"
            score = "" if manifest.score is None else f", score {manifest.score:.4g}"
            print(
                f"step {step}: ok, {len(manifest.files)} files, world {manifest.world_size} "
                f"(dp {manifest.dp_size}){score}, torch {manifest.torch_version}{mark}"
            )
        for name in leftovers:
            print(f"{name}: incomplete write (ignored; removed on resume)")
        return 0 if chosen is not None or not steps else 1


def register_trainer(container: DependencyContainer) -> None:
    """Register ``seqkit checkpoint list``."""
    container.register_instance(
        CliGroup, CliGroup(name="checkpoint", help="inspect training checkpoints"), key="checkpoint"
    )
    container.register(CliCommand, lambda _: CheckpointListCommand(), key="checkpoint.list")
