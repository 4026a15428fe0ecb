"""This rank's training and validation readers, the same way for every recipe."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from seqkit.data import NotEnoughDataError, PlannedBatchReader, ReaderOptions, TokenDataset
from seqkit.recipes.data_prep import PreparedData
from seqkit.recipes.errors import RecipeDataError
from seqkit.recipes.run_context import RunContext
from seqkit.recipes.sections import TrainSection

BatchT = TypeVar("BatchT")

ReaderFactory = Callable[[Sequence[TokenDataset], ReaderOptions], PlannedBatchReader[BatchT]]
"""``make(datasets, options)``: a reader of one kind (packed rows, pairs, examples)."""

SMALLER_BATCHES = (
    "Each rank needs at least one batch: lower train.batch_size or train.max_num_tokens, or "
    "add data."
)


def batch_sizes(train: TrainSection) -> tuple[int | None, int | None]:
    """``(batch_size, max_num_tokens)``: exactly one is set, as the config asks."""
    budget = train.max_num_tokens
    return (train.batch_size if budget is None else None), budget


def create_readers(
    ctx: RunContext,
    prepared: PreparedData,
    make: ReaderFactory[BatchT],
    train: TrainSection,
    *,
    what: str,
    weights: Sequence[float] | None = None,
    too_small: str = SMALLER_BATCHES,
) -> tuple[PlannedBatchReader[BatchT], PlannedBatchReader[BatchT] | None]:
    """The training reader (an error saying ``too_small`` when a rank would get no batch)
    and the validation reader (``None``, said, when there are fewer examples than ranks)."""
    dp = ctx.gangs.dp
    options = ReaderOptions(seed=train.seed, rank=dp.rank, world_size=dp.size, weights=weights)
    reader = make(prepared.train, options)
    try:
        reader.plan()
    except NotEnoughDataError as ex:
        raise RecipeDataError(f"{ex} {too_small}") from ex
    if not prepared.valid:
        return reader, None
    valid = make(prepared.valid, ReaderOptions(rank=dp.rank, world_size=dp.size, shuffle=False))
    try:
        valid.plan()
    except NotEnoughDataError:
        ctx.say(f"Fewer validation {what} than {dp.size} rank(s); skipping validation.")
        return reader, None
    return reader, valid
