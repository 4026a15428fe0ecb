"""A resumable, shardable batch reader over indexed examples.

Every epoch draws a fresh permutation from ``seed + epoch`` (so the order does not depend
on the world size), deals it round-robin to the data-parallel ranks, and cuts each
rank's share into batches. Iterating yields the rest of the current epoch; ``reset()``
starts the next one (the trainer's protocol). The state is two integers, so a checkpoint
restores the exact position and a resumed run sees the batches an uninterrupted run
would have. Because the first ``b * batch_size * world_size`` examples of the permutation
are exactly those consumed after ``b`` batches, the position can also be carried to
another world size (:meth:`global_state_dict`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

import numpy as np

from seqkit.gang import Gang
from seqkit.recipes.errors import RecipeDataError

BatchT = TypeVar("BatchT")


class IndexedBatchReader(Generic[BatchT]):
    """Iterates batches built by ``make_batch(indices)`` over ``num_items`` examples."""

    def __init__(
        self,
        *,
        num_items: int,
        batch_size: int,
        make_batch: Callable[[list[int]], BatchT],
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        drop_remainder: bool = True,
        what: str = "training data",
    ) -> None:
        if num_items // world_size < (batch_size if drop_remainder else 1):
            raise RecipeDataError(
                f"The {what} has {num_items} examples, too few for batches of {batch_size} "
                f"on each of {world_size} rank(s); add data or lower train.batch_size."
            )
        self._num_items = num_items
        self._batch_size = batch_size
        self._make_batch = make_batch
        self._seed = seed
        self._rank = rank
        self._world_size = world_size
        self._shuffle = shuffle
        self._drop_remainder = drop_remainder
        self._epoch = 0
        self._batch_nr = 0

    @property
    def epoch(self) -> int:
        """The current epoch, from 0."""
        return self._epoch

    def batches_per_epoch(self) -> int:
        """Batches each rank reads per epoch (equal on every rank)."""
        per_rank = self._num_items // self._world_size
        if self._drop_remainder:
            return per_rank // self._batch_size
        return -(-per_rank // self._batch_size)

    def _order(self, epoch: int) -> np.ndarray:
        if self._shuffle:
            order = np.random.default_rng(self._seed + epoch).permutation(self._num_items)
        else:
            order = np.arange(self._num_items)
        per_rank = self._num_items // self._world_size
        return order[self._rank :: self._world_size][:per_rank]

    def __iter__(self) -> Iterator[BatchT]:
        order = self._order(self._epoch)
        count = self.batches_per_epoch()
        while self._batch_nr < count:
            start = self._batch_nr * self._batch_size
            indices = order[start : start + self._batch_size].tolist()
            self._batch_nr += 1
            yield self._make_batch(indices)

    def reset(self) -> None:
        """Start the next epoch (a new permutation when shuffling)."""
        self._epoch += 1
        self._batch_nr = 0

    def state_dict(self) -> dict[str, int]:
        """The exact position: epoch and batches already read in it."""
        return {"epoch": self._epoch, "batch_nr": self._batch_nr, "seed": self._seed}

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        """Restore a position saved by :meth:`state_dict`."""
        self._epoch = int(str(state["epoch"]))
        self._batch_nr = int(str(state["batch_nr"]))

    def global_state_dict(self) -> dict[str, int]:
        """The position as a count of examples consumed by all ranks in this epoch."""
        consumed = self._batch_nr * self._batch_size * self._world_size
        return {"epoch": self._epoch, "consumed": consumed}

    def load_global_state_dict(self, state: Mapping[str, object]) -> None:
        """Restore a :meth:`global_state_dict` position under this reader's world size."""
        self._epoch = int(str(state["epoch"]))
        self._batch_nr = int(str(state["consumed"])) // (self._batch_size * self._world_size)


def train_reader(
    dp: Gang,
    *,
    num_items: int,
    batch_size: int,
    seed: int,
    make_batch: Callable[[list[int]], BatchT],
) -> IndexedBatchReader[BatchT]:
    """This data-parallel rank's shuffled, full-batch reader over the training examples."""
    return IndexedBatchReader[BatchT](
        num_items=num_items,
        batch_size=batch_size,
        make_batch=make_batch,
        seed=seed,
        rank=dp.rank,
        world_size=dp.size,
    )


def valid_reader(
    dp: Gang, *, num_items: int, batch_size: int, make_batch: Callable[[list[int]], BatchT]
) -> IndexedBatchReader[BatchT] | None:
    """This rank's in-order reader over every validation example (the last batch may be
    short), or ``None`` when there are fewer examples than data-parallel ranks."""
    if num_items < dp.size:
        return None
    return IndexedBatchReader[BatchT](
        num_items=num_items,
        batch_size=min(batch_size, num_items // dp.size),
        make_batch=make_batch,
        seed=0,
        rank=dp.rank,
        world_size=dp.size,
        shuffle=False,
        drop_remainder=False,
        what="validation data",
    )
