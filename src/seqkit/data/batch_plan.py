"""Epoch plans: which examples form each batch, as a pure function of (datasets, seed, epoch).

A plan handles example ids and lengths only, never token bytes, so every rank computes
the whole plan of an epoch cheaply and identically whatever the world size; the readers
shard the plan's batches afterwards (:mod:`seqkit.data.batch_reader`). Three kinds:

- :func:`plan_windows`: language-model rows, windows of ``L + 1`` tokens over a
  dataset's flat token array, permuted and cut into batches of ``batch_size`` rows;
- :func:`plan_documents` with ``batch_size``: documents in a random order, a fixed
  number per batch;
- :func:`plan_documents` with ``max_num_tokens``: token-budget batches. Documents are
  sorted by length (ties broken at random) and cut greedily so that a batch's padded
  size, ``rows x (longest source + longest target)``, stays within the budget; the
  batches are then shuffled. Sorting the whole dataset, as fairseq does, packs tighter
  than fixed length buckets (see docs/benchmarks.md, "MT batching").

Several datasets combine into one plan: by default every batch of every dataset once per
epoch in a random order; with ``weights``, batches are drawn dataset by dataset with
those probabilities through :func:`seqkit.data.sample`, until every dataset has been
used up at least once (a dataset that runs out starts over).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import final

import numpy as np
import numpy.typing as npt

from seqkit import _native
from seqkit.data.pipeline import count, sample

IntArray = npt.NDArray[np.int64]

_DATASET_SHIFT = 40
"""Bits of a batch number in the ints that carry ``(dataset, batch)`` through ``sample``."""


@final
@dataclass(frozen=True)
class BatchPlan:
    """The batches of one epoch: batch ``b`` is ``ids[starts[b]:ends[b]]`` of dataset
    ``datasets[b]`` (document ids, or window ids for language-model rows)."""

    ids: IntArray
    """Example ids, batch after batch (the same id may appear in several batches)."""

    starts: IntArray
    """Where each batch's ids start in ``ids``."""

    ends: IntArray
    """Where each batch's ids end in ``ids``."""

    datasets: IntArray
    """The dataset of each batch."""

    num_skipped: int = 0
    """Examples left out of the plan because one alone exceeds the token budget."""

    real_tokens: int = 0
    """Tokens of the planned examples (0 when the plan does not know lengths)."""

    padded_tokens: int = 0
    """Tokens of the planned batches once padded (0 when unknown)."""

    def __len__(self) -> int:
        return len(self.starts)

    def batch(self, index: int) -> tuple[int, IntArray]:
        """``(dataset, example ids)`` of batch ``index``."""
        return int(self.datasets[index]), self.ids[self.starts[index] : self.ends[index]]

    @property
    def padding_efficiency(self) -> float | None:
        """Real tokens / padded tokens of the whole plan (``None`` when unknown)."""
        return self.real_tokens / self.padded_tokens if self.padded_tokens else None

    def split_evenly(self, parts: int) -> BatchPlan:
        """The same examples in a number of batches divisible by ``parts``: the largest
        batches are halved until it is (every rank then reads as many batches)."""
        starts, ends = self.starts.tolist(), self.ends.tolist()
        datasets = self.datasets.tolist()
        while len(starts) % parts:
            sizes = [e - s for s, e in zip(starts, ends, strict=True)]
            big = int(np.argmax(sizes))
            if sizes[big] < 2:
                break
            mid = starts[big] + sizes[big] // 2
            starts.insert(big + 1, mid)
            ends.insert(big, mid)
            datasets.insert(big, datasets[big])
        return BatchPlan(
            self.ids,
            np.asarray(starts, dtype=np.int64),
            np.asarray(ends, dtype=np.int64),
            np.asarray(datasets, dtype=np.int64),
            self.num_skipped,
            self.real_tokens,
            self.padded_tokens,
        )


def epoch_rng(seed: int, epoch: int, dataset: int = 0) -> np.random.Generator:
    """The generator every plan of ``(seed, epoch, dataset)`` draws from."""
    return np.random.default_rng([seed, epoch, dataset])


def plan_windows(
    num_windows: Sequence[int],
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    shuffle: bool = True,
    weights: Sequence[float] | None = None,
) -> BatchPlan:
    """Batches of ``batch_size`` window ids per dataset (``num_windows[d]`` windows each).

    Shuffled: a fresh permutation per epoch, the last incomplete batch of each dataset
    dropped (other windows are dropped each epoch). In order (``shuffle=False``, for
    validation): every window, the last batch possibly short.
    """
    per_dataset: list[tuple[IntArray, IntArray]] = []
    for d, n in enumerate(num_windows):
        order = epoch_rng(seed, epoch, d).permutation(n) if shuffle else np.arange(n)
        per_dataset.append(_fixed_batches(order.astype(np.int64), batch_size, drop=shuffle))
    return _combine(per_dataset, seed=seed, epoch=epoch, shuffle=shuffle, weights=weights)


def plan_documents(
    lengths: Sequence[Sequence[IntArray]],
    *,
    batch_size: int | None = None,
    max_num_tokens: int | None = None,
    seed: int,
    epoch: int,
    shuffle: bool = True,
    weights: Sequence[float] | None = None,
) -> BatchPlan:
    """Batches of documents: ``lengths[d]`` holds one length array per column of dataset d.

    Exactly one of ``batch_size`` (documents per batch) and ``max_num_tokens`` (padded
    tokens per batch, all columns together) must be given. Shuffled plans drop each
    dataset's last incomplete fixed-size batch; in-order plans (validation) keep every
    document, sorted by length when batching by tokens.
    """
    if (batch_size is None) == (max_num_tokens is None):
        raise ValueError("give exactly one of batch_size and max_num_tokens")
    per_dataset: list[tuple[IntArray, IntArray]] = []
    skipped = real = padded = 0
    for d, columns in enumerate(lengths):
        n = len(columns[0])
        rng = epoch_rng(seed, epoch, d)
        if batch_size is not None:
            order = rng.permutation(n) if shuffle else np.arange(n)
            ids, bounds = _fixed_batches(order.astype(np.int64), batch_size, drop=shuffle)
        else:
            assert max_num_tokens is not None
            ids, bounds, num_long = _budget_batches(columns, max_num_tokens, rng, shuffle=shuffle)
            skipped += num_long
        r, p = _token_counts(columns, ids, bounds)
        real, padded = real + r, padded + p
        per_dataset.append((ids, bounds))
    plan = _combine(per_dataset, seed=seed, epoch=epoch, shuffle=shuffle, weights=weights)
    return BatchPlan(plan.ids, plan.starts, plan.ends, plan.datasets, skipped, real, padded)


def _fixed_batches(order: IntArray, batch_size: int, *, drop: bool) -> tuple[IntArray, IntArray]:
    n = len(order) - len(order) % batch_size if drop else len(order)
    bounds = np.arange(0, n + batch_size, batch_size, dtype=np.int64)
    bounds[-1] = min(int(bounds[-1]), n)
    if len(bounds) > 1 and bounds[-1] == bounds[-2]:
        bounds = bounds[:-1]
    return order[:n], bounds


def _budget_batches(
    columns: Sequence[IntArray], max_num_tokens: int, rng: np.random.Generator, *, shuffle: bool
) -> tuple[IntArray, IntArray, int]:
    n = len(columns[0])
    base = rng.permutation(n).astype(np.int64) if shuffle else np.arange(n, dtype=np.int64)
    # np.lexsort sorts by the last key first: the first column's length, then the next,
    # ties in the random base order.
    keys = [np.asarray(col, dtype=np.int64)[base] for col in reversed(columns)]
    order = base[np.lexsort(keys)] if n else base
    sorted_lengths = [
        np.ascontiguousarray(np.asarray(col, dtype=np.int64)[order]) for col in columns
    ]
    kept, bounds, too_long = _native.pack_by_budget(sorted_lengths, max_num_tokens, 0)
    ids = order[kept]
    if shuffle and len(bounds) > 1:
        perm = rng.permutation(len(bounds) - 1)
        starts, ends = bounds[:-1][perm], bounds[1:][perm]
        ids = np.concatenate([ids[s:e] for s, e in zip(starts, ends, strict=True)])
        bounds = np.concatenate([[0], np.cumsum(ends - starts)]).astype(np.int64)
    return ids, bounds, len(too_long)


def _token_counts(columns: Sequence[IntArray], ids: IntArray, bounds: IntArray) -> tuple[int, int]:
    if len(bounds) < 2:
        return 0, 0
    sizes = np.diff(bounds)
    real = padded = 0
    for col in columns:
        lens = np.asarray(col, dtype=np.int64)[ids]
        real += int(lens.sum())
        padded += int((np.maximum.reduceat(lens, bounds[:-1]) * sizes).sum())
    return real, padded


def _combine(
    per_dataset: list[tuple[IntArray, IntArray]],
    *,
    seed: int,
    epoch: int,
    shuffle: bool,
    weights: Sequence[float] | None,
) -> BatchPlan:
    counts = [len(bounds) - 1 for _, bounds in per_dataset]
    if weights is not None:
        picks = _sampled_batches(counts, weights, seed=seed, epoch=epoch)
    else:
        picks = (
            np.concatenate(
                [(d << _DATASET_SHIFT) + np.arange(c, dtype=np.int64) for d, c in enumerate(counts)]
            )
            if counts
            else np.zeros(0, dtype=np.int64)
        )
        if shuffle:
            picks = epoch_rng(seed, epoch, len(counts)).permutation(picks)
    datasets = picks >> _DATASET_SHIFT
    batches = picks & ((1 << _DATASET_SHIFT) - 1)
    starts = np.empty(len(picks), dtype=np.int64)
    ends = np.empty(len(picks), dtype=np.int64)
    offset = 0
    id_parts = []
    for d, (ids, bounds) in enumerate(per_dataset):
        mine = datasets == d
        starts[mine] = bounds[:-1][batches[mine]] + offset
        ends[mine] = bounds[1:][batches[mine]] + offset
        id_parts.append(ids)
        offset += len(ids)
    all_ids = np.concatenate(id_parts) if id_parts else np.zeros(0, dtype=np.int64)
    return BatchPlan(all_ids, starts, ends, datasets.astype(np.int64))


def _sampled_batches(
    counts: list[int], weights: Sequence[float], *, seed: int, epoch: int
) -> IntArray:
    if len(weights) != len(counts):
        raise ValueError(f"one weight per dataset: {len(counts)} datasets, {len(weights)} weights")
    empty = [d for d, c in enumerate(counts) if c == 0]
    if empty:
        raise ValueError(f"dataset {empty[0]} of the mixture has no batch")
    sources = [count(d << _DATASET_SHIFT).take(c).and_return() for d, c in enumerate(counts)]
    mixed = sample(sources, weights, seed=seed * 1_000_003 + epoch).and_return()
    try:
        return np.fromiter(mixed, dtype=np.int64)
    finally:
        mixed.close()
