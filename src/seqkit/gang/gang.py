"""The :class:`Gang` role: the collectives seqkit needs, over one group of processes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from enum import Enum

import torch
from torch import Tensor


class ReduceOperation(Enum):
    """How :meth:`Gang.all_reduce` combines the tensors of the ranks."""

    SUM = "sum"
    MEAN = "mean"
    MAX = "max"
    MIN = "min"


class Gang(ABC):
    """A group of processes that run collectives together.

    Every rank of the gang must call a collective with tensors of the same shape and dtype,
    in the same order; a rank that does not come fails the others after the timeout.
    """

    @property
    @abstractmethod
    def rank(self) -> int:
        """The rank of this process in the gang (0-based)."""

    @property
    @abstractmethod
    def size(self) -> int:
        """The number of processes in the gang."""

    @property
    @abstractmethod
    def device(self) -> torch.device:
        """The device that this process computes on and runs collectives with."""

    @abstractmethod
    def all_reduce(self, tensor: Tensor, op: ReduceOperation) -> None:
        """Reduce ``tensor`` over all ranks, in place; every rank receives the result."""

    @abstractmethod
    def all_gather(self, output: Tensor, tensor: Tensor) -> None:
        """Gather ``tensor`` of every rank into ``output``, concatenated along dim 0 in rank
        order; ``output`` has ``size * tensor.size(0)`` rows."""

    @abstractmethod
    def all_gather_to_list(self, outputs: Sequence[Tensor], tensor: Tensor) -> None:
        """Gather ``tensor`` of rank ``i`` into ``outputs[i]`` (``len(outputs) == size``)."""

    @abstractmethod
    def broadcast(self, tensor: Tensor, source_rank: int = 0) -> None:
        """Copy ``tensor`` of ``source_rank`` into ``tensor`` of every other rank, in place."""

    @abstractmethod
    def broadcast_objects(self, objects: list[object], source_rank: int = 0) -> None:
        """Replace the items of ``objects`` by those of ``source_rank`` (picklable values;
        only for data this job produced itself, never for files from elsewhere)."""

    @abstractmethod
    def barrier(self) -> None:
        """Wait until every rank has reached the barrier."""

    @abstractmethod
    def create_gang(self, ranks: Sequence[int]) -> Gang | None:
        """Make a sub-gang of ``ranks`` (ranks of this gang).

        Every rank of this gang must call it with the same ``ranks``; ranks outside the new
        gang receive ``None``.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the gang's resources; the gang is unusable afterwards."""


def check_ranks(gang: Gang, ranks: Sequence[int]) -> list[int]:
    """Validate the ``ranks`` of a sub-gang of ``gang`` and return them as a sorted list."""
    unique = sorted(set(ranks))
    if not unique:
        raise ValueError("`ranks` must name at least one rank of the gang.")
    if len(unique) != len(ranks):
        raise ValueError(f"`ranks` must not repeat a rank, but got {list(ranks)}.")
    for rank in unique:
        if rank < 0 or rank >= gang.size:
            raise ValueError(
                f"`ranks` must be between 0 and {gang.size - 1} (the gang size is "
                f"{gang.size}), but contains {rank}."
            )
    return unique
