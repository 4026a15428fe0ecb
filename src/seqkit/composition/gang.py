"""Registrations of `seqkit.gang` in the container, and ``seqkit gang check``."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

import torch

from seqkit.cli.command import CliCommand, CliGroup
from seqkit.gang import DEFAULT_TIMEOUT, Gangs, GangsFactory, ProcessGroupGang, ReduceOperation
from seqkit.gang.gang import Gang
from seqkit.runtime import DependencyContainer, DependencyResolver


class GangCheckCommand(CliCommand):
    """``seqkit gang check``: set up the gangs as a recipe would and test them.

    Run it under the launcher you will train with (``torchrun ... -m seqkit gang check`` or
    ``srun python -m seqkit gang check``) to see the world layout and that every rank can
    reach every other before spending a long job on it.
    """

    group = "gang"
    name = "check"
    help = "set up the gangs from torchrun/SLURM and test one collective on each"

    def __init__(self, resolver: DependencyResolver) -> None:
        self._resolver = resolver

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--tp-size", type=int, default=1, help="tensor-parallel degree")
        parser.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT.total_seconds(),
            help="seconds a collective may wait for the other ranks",
        )
        parser.add_argument("--device", default=None, help="e.g. cpu or cuda:0 (default: auto)")

    def run(self, args: argparse.Namespace) -> int:
        factory = self._resolver.resolve(GangsFactory)
        device = torch.device(args.device) if args.device else None
        gangs = factory(args.tp_size, device, timedelta(seconds=args.timeout))
        try:
            self._report(gangs)
        finally:
            gangs.close()
        return 0

    @staticmethod
    def _report(gangs: Gangs) -> None:
        root = gangs.root
        backend = "fake" if not isinstance(root, ProcessGroupGang) else _backend(root)
        members = {
            name: _members(gang, root) for name, gang in (("tp", gangs.tp), ("dp", gangs.dp))
        }
        total = torch.tensor([float(root.rank)], device=root.device)
        root.all_reduce(total, ReduceOperation.SUM)
        want = root.size * (root.size - 1) / 2
        status = "ok" if total.item() == want else f"WRONG ({total.item()} != {want})"
        root.barrier()
        # One write per line: ranks share the launcher's stdout, and print() issues the
        # text and the newline separately, which interleave under unbuffered output.
        sys.stdout.write(
            f"rank {root.rank} of {root.size} on {root.device} ({backend}): "
            f"tp ranks {members['tp']}, dp ranks {members['dp']}, all_reduce {status}\n"
        )
        sys.stdout.flush()


def _backend(gang: ProcessGroupGang) -> str:
    import torch.distributed as dist

    return str(dist.get_backend(gang.process_group))


def _members(gang: Gang, root: Gang) -> list[int]:
    """The root ranks in ``gang``, gathered over it."""
    parts = [torch.empty(1, dtype=torch.int64, device=gang.device) for _ in range(gang.size)]
    gang.all_gather_to_list(parts, torch.tensor([root.rank], device=gang.device))
    return [int(p.item()) for p in parts]


def register_gang(container: DependencyContainer) -> None:
    """Register the gangs factory and ``seqkit gang check``."""
    container.register(GangsFactory, lambda _: GangsFactory())
    container.register_instance(
        CliGroup, CliGroup(name="gang", help="check distributed setups"), key="gang"
    )
    container.register(CliCommand, GangCheckCommand, key="gang.check")
