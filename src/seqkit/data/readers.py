"""Ready-made training and validation readers over token datasets.

Each returns a :class:`~seqkit.data.batch_reader.PlannedBatchReader` for one rank:
shuffled per epoch for training (``shuffle=True``), every example in order for
validation (``shuffle=False``: nothing dropped, the batches split so that every rank
reads as many).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from seqkit.data.batch_plan import BatchPlan, IntArray, plan_documents, plan_windows
from seqkit.data.batch_reader import NotEnoughDataError, PlanFn, PlannedBatchReader
from seqkit.data.batches import (
    BatchGather,
    MaskedBatch,
    MaskedGather,
    PackedBatch,
    PairBatch,
    PairGather,
    WindowGather,
    num_windows,
)
from seqkit.data.token_dataset import TokenDataset

BatchT = TypeVar("BatchT")


@dataclass(frozen=True, kw_only=True)
class ReaderOptions:
    """Where a reader sits and how it orders its data."""

    seed: int = 0
    """Seed of every epoch's plan (combined with the epoch number)."""

    rank: int = 0
    """This process's data-parallel rank."""

    world_size: int = 1
    """Number of data-parallel ranks."""

    shuffle: bool = True
    """Shuffle each epoch (training) or read everything in order (validation)."""

    weights: Sequence[float] | None = None
    """Mixture weights of the datasets (``None``: every batch of every dataset once)."""

    prefetch: int = 8
    """Batches prepared ahead on a background thread. Eight, not two: the thread refills
    at half capacity, so a deeper buffer rarely runs dry while the training step keeps
    both cores busy (2.7% -> see docs/benchmarks.md, "Data path")."""


def lm_reader(
    datasets: Sequence[TokenDataset], *, seq_len: int, batch_size: int, options: ReaderOptions
) -> PlannedBatchReader[PackedBatch]:
    """Packed rows of ``seq_len`` tokens (+1 shifted target) with document boundaries."""
    counts = [num_windows(ds, seq_len) for ds in datasets]
    plan = partial(
        plan_windows,
        counts,
        batch_size,
        seed=options.seed,
        shuffle=options.shuffle,
        weights=options.weights,
    )
    return _reader(
        lambda epoch: plan(epoch=epoch), WindowGather(datasets, seq_len), options, "text rows"
    )


def pair_reader(
    datasets: Sequence[TokenDataset],
    *,
    pad_idx: int,
    batch_size: int | None = None,
    max_num_tokens: int | None = None,
    options: ReaderOptions,
) -> PlannedBatchReader[PairBatch]:
    """Translation pairs: a fixed number per batch, or a padded source + target token
    budget per batch (``max_num_tokens``, like fairseq's ``--max-tokens``)."""
    lengths = [[ds.column("source").lengths(), ds.column("target").lengths()] for ds in datasets]
    return _document_reader(
        lengths, PairGather(datasets, pad_idx), batch_size, max_num_tokens, options, "pairs"
    )


def masked_reader(
    datasets: Sequence[TokenDataset],
    *,
    pad_idx: int,
    batch_size: int | None = None,
    max_num_tokens: int | None = None,
    options: ReaderOptions,
) -> PlannedBatchReader[MaskedBatch]:
    """Fine-tuning examples (``tokens`` + ``target_mask`` columns), padded per batch."""
    lengths = [[ds.column("tokens").lengths()] for ds in datasets]
    return _document_reader(
        lengths, MaskedGather(datasets, pad_idx), batch_size, max_num_tokens, options, "examples"
    )


def _document_reader(
    lengths: Sequence[Sequence[IntArray]],
    gather: BatchGather[BatchT],
    batch_size: int | None,
    max_num_tokens: int | None,
    options: ReaderOptions,
    what: str,
) -> PlannedBatchReader[BatchT]:
    def plan(epoch: int) -> BatchPlan:
        return plan_documents(
            lengths,
            batch_size=batch_size,
            max_num_tokens=max_num_tokens,
            seed=options.seed,
            epoch=epoch,
            shuffle=options.shuffle,
            weights=options.weights,
        )

    return _reader(plan, gather, options, what)


def _reader(
    plan: PlanFn, gather: BatchGather[BatchT], options: ReaderOptions, what: str
) -> PlannedBatchReader[BatchT]:
    def even_plan(epoch: int) -> BatchPlan:
        return plan(epoch).split_evenly(options.world_size)

    return PlannedBatchReader(
        plan if options.shuffle else even_plan,
        gather,
        rank=options.rank,
        world_size=options.world_size,
        prefetch=options.prefetch,
        what=("training " if options.shuffle else "validation ") + what,
    )


__all__ = [
    "NotEnoughDataError",
    "ReaderOptions",
    "lm_reader",
    "masked_reader",
    "pair_reader",
]
