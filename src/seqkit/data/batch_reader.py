"""The training readers: a planned epoch, sharded, gathered and prefetched on the pipeline.

Per epoch, every rank computes the same :class:`~seqkit.data.batch_plan.BatchPlan`
(ids and lengths only). The batches the job has consumed are skipped *before* sharding,
so the position is one number, the count of global batches consumed in the epoch, and
means the same on any number of ranks. The rest runs on the native pipeline::

    count(consumed).take(usable - consumed)   # global batch numbers
      .shard(rank, world_size)                # this rank's batches only
      .map(gather.planned(plan))              # gathered and padded in C++, no GIL
      .prefetch(8)                            # on a background thread

``usable`` rounds the epoch down to a multiple of the world size, so every rank reads
the same number of batches and no rank waits at the end of an epoch for a batch that
will not come (a hang under DDP/FSDP).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar, final

from seqkit.data.batch_plan import BatchPlan
from seqkit.data.batches import BatchGather
from seqkit.data.errors import DataError
from seqkit.data.pipeline import DataPipeline, count

BatchT = TypeVar("BatchT")

PlanFn = Callable[[int], BatchPlan]
"""``plan(epoch) -> BatchPlan``: a pure function of the epoch."""


class NotEnoughDataError(DataError, ValueError):
    """A dataset holds fewer batches than there are ranks to read them."""


@final
class PlannedBatchReader(Generic[BatchT]):
    """Reads this rank's share of each epoch's planned batches; implements the trainer's
    ``DataReader`` and ``GlobalPositionReader`` protocols.

    The state is ``{"epoch", "consumed"}``: ``consumed`` counts global batches (all
    ranks') taken by the trainer in the epoch, not those merely prefetched. Restoring it
    rebuilds the epoch's plan and continues with the next unread global batch, bitwise
    the same on the same world size and with no batch skipped or repeated on another.
    """

    def __init__(
        self,
        plan: PlanFn,
        gather: BatchGather[BatchT],
        *,
        rank: int = 0,
        world_size: int = 1,
        prefetch: int = 8,
        what: str = "training data",
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, {world_size})")
        self._plan_fn = plan
        self._gather = gather
        self._rank = rank
        self._world = world_size
        self._prefetch = prefetch
        self._what = what
        self._epoch = 0
        self._consumed = 0
        self._plan: BatchPlan | None = None
        self._plan_epoch = -1

    @property
    def epoch(self) -> int:
        """The current epoch, from 0."""
        return self._epoch

    def plan(self) -> BatchPlan:
        """The plan of the current epoch (computed once per epoch)."""
        if self._plan is None or self._plan_epoch != self._epoch:
            plan = self._plan_fn(self._epoch)
            if len(plan) < self._world:
                raise NotEnoughDataError(
                    f"The {self._what} fill {len(plan)} batch(es) in epoch {self._epoch}, "
                    f"fewer than the {self._world} rank(s) that read them."
                )
            self._plan, self._plan_epoch = plan, self._epoch
        return self._plan

    def batches_per_epoch(self) -> int:
        """Batches each rank reads in the current epoch (equal on every rank)."""
        return len(self.plan()) // self._world

    def __iter__(self) -> Iterator[BatchT]:
        plan = self.plan()
        usable = self._consumed + (len(plan) - self._consumed) // self._world * self._world
        if usable <= self._consumed:
            return
        pipeline = self._pipeline(plan, usable)
        finish = self._gather.finish
        try:
            for arrays in pipeline:
                batch = finish(arrays)
                self._consumed += self._world
                yield batch
        finally:
            pipeline.close()

    def _pipeline(self, plan: BatchPlan, usable: int) -> DataPipeline:
        builder = (
            count(self._consumed)
            .take(usable - self._consumed)
            .shard(self._rank, self._world)
            .map(self._gather.planned(plan))
        )
        if self._prefetch > 0:
            builder = builder.prefetch(self._prefetch)
        return builder.and_return()

    def reset(self) -> None:
        """Start the next epoch (a new plan)."""
        self._epoch += 1
        self._consumed = 0

    def state_dict(self) -> dict[str, int]:
        """The exact position: epoch and global batches consumed in it."""
        return {"epoch": self._epoch, "consumed": self._consumed, "world_size": self._world}

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        """Restore a position saved by :meth:`state_dict` (or :meth:`global_state_dict`)."""
        epoch, consumed = state.get("epoch"), state.get("consumed")
        if not isinstance(epoch, int) or not isinstance(consumed, int) or consumed < 0:
            raise DataError(
                f"The saved position of the {self._what} is not a batch reader's "
                f"{{'epoch', 'consumed'}} (got {dict(state)!r}); the checkpoint was written "
                "by another version of seqkit or another data setup."
            )
        self._epoch, self._consumed = epoch, consumed

    def global_state_dict(self) -> dict[str, int]:
        """The position independent of the world size (the same numbers)."""
        return {"epoch": self._epoch, "consumed": self._consumed}

    def load_global_state_dict(self, state: Mapping[str, object]) -> None:
        """Restore a position saved on any number of ranks."""
        self.load_state_dict(state)
