"""Errors raised by :mod:`seqkit.gang`."""

from __future__ import annotations

from seqkit.errors import SeqkitError


class GangError(SeqkitError, RuntimeError):
    """A collective operation failed, timed out, or a peer rank went away.

    ``operation`` names the collective (``"all_reduce"``, ``"barrier"``, ...) and ``rank``
    the rank (in the gang that ran it) that saw the failure.
    """

    def __init__(self, operation: str, rank: int, size: int, reason: str) -> None:
        super().__init__(
            f"The gang operation `{operation}` failed on rank {rank} of {size}: {reason}. "
            "Another rank has probably died or is stuck; check its log, and raise the gang "
            "timeout (`setup_gangs(timeout=...)`) if the ranks are only slow."
        )
        self.operation = operation
        self.rank = rank
        self.size = size


class GangSetupError(SeqkitError, ValueError):
    """The distributed environment (torchrun or SLURM variables, tp_size, device) is invalid."""


class ShardingError(SeqkitError, ValueError):
    """A module cannot be sharded as asked (a size not divisible by the gang size, a bad path)."""
