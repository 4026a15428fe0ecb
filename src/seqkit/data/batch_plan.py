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
from dataclasses import dataclass, replace
from typing import final

import numpy as np
import numpy.typing as npt

from seqkit import _native
from seqkit.data.pipeline import count, sample

IntArray = npt.NDArray[np.signedinteger]

_DATASET_SHIFT = 40
"""Bits of a batch number in the ints that carry ``(dataset, batch)`` through ``sample``."""


@final
@dataclass(frozen=True)
class BatchPlan:
    """The batches of one epoch.

    Batch ``k`` holds the example ids ``ids[bounds[k]:bounds[k + 1]]`` (document ids, or
    window ids for language-model rows) of the dataset ``d`` with ``dataset_starts[d] <= k
    < dataset_starts[d + 1]``; the epoch reads the batches in the sequence ``order``. Ids
    are int32 when they fit, and a single dataset's windows are never copied, so a plan
    over a 2 GB token dataset stays within a few hundred MB.
    """

    ids: IntArray
    """Example ids, batch after batch, dataset after dataset."""

    bounds: IntArray
    """``K + 1`` offsets into ``ids``: where each batch starts, then the end."""

    dataset_starts: IntArray
    """``D + 1`` batch numbers: where each dataset's batches start, then ``K``."""

    order: IntArray
    """The batch numbers in the order the epoch reads them (a mixture may repeat some)."""

    num_skipped: int = 0
    """Examples left out of the plan because one alone exceeds the token budget."""

    real_tokens: int = 0
    """Tokens of the planned examples (0 when the plan does not know lengths)."""

    padded_tokens: int = 0
    """Tokens of the planned batches once padded (0 when unknown)."""

    def __len__(self) -> int:
        return len(self.order)

    def batch(self, index: int) -> tuple[int, IntArray]:
        """``(dataset, example ids)`` of the ``index``-th batch the epoch reads."""
        k = int(self.order[index])
        dataset = int(np.searchsorted(self.dataset_starts, k, side="right")) - 1
        ids = self.ids[self.bounds[k] : self.bounds[k + 1]]
        return dataset, ids if ids.dtype == np.int64 else ids.astype(np.int64)

    def datasets(self) -> IntArray:
        """The dataset of every batch, in reading order."""
        return np.searchsorted(self.dataset_starts, self.order, side="right").astype(np.int64) - 1

    @property
    def padding_efficiency(self) -> float | None:
        """Real tokens / padded tokens of the whole plan (``None`` when unknown)."""
        return self.real_tokens / self.padded_tokens if self.padded_tokens else None

    def split_evenly(self, parts: int) -> BatchPlan:
        """The same batches in reading order, the largest halved until their number is
        divisible by ``parts`` (so every rank reads as many; for validation plans)."""
        pieces = [self.batch(b) for b in range(len(self))]
        while len(pieces) % parts:
            big = max(range(len(pieces)), key=lambda i: len(pieces[i][1]))
            dataset, ids = pieces[big]
            if len(ids) < 2:
                break
            half = len(ids) // 2
            pieces[big : big + 1] = [(dataset, ids[:half]), (dataset, ids[half:])]
        pieces.sort(key=lambda piece: piece[0])  # batches grouped by dataset, order kept
        sizes = [len(ids) for _, ids in pieces]
        counts = np.bincount([d for d, _ in pieces], minlength=len(self.dataset_starts) - 1)
        return BatchPlan(
            np.concatenate([ids for _, ids in pieces]) if pieces else self.ids[:0],
            np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            np.arange(len(pieces), dtype=np.int64),
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
        order = np.arange(n, dtype=_index_dtype(n))
        if shuffle:
            epoch_rng(seed, epoch, d).shuffle(order)  # in place: no second copy of the ids
        per_dataset.append(_fixed_batches(order, batch_size, drop=shuffle))
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
            order = np.arange(n, dtype=_index_dtype(n))
            if shuffle:
                rng.shuffle(order)
            ids, bounds = _fixed_batches(order, batch_size, drop=shuffle)
        else:
            assert max_num_tokens is not None
            ids, bounds, num_long = _budget_batches(columns, max_num_tokens, rng, shuffle=shuffle)
            skipped += num_long
        r, p = _token_counts(columns, ids, bounds)
        real, padded = real + r, padded + p
        per_dataset.append((ids, bounds))
    plan = _combine(per_dataset, seed=seed, epoch=epoch, shuffle=shuffle, weights=weights)
    return replace(plan, num_skipped=skipped, real_tokens=real, padded_tokens=padded)


def _index_dtype(n: int) -> type[np.signedinteger]:
    return np.int32 if n < 2**31 else np.int64


def _fixed_batches(order: IntArray, batch_size: int, *, drop: bool) -> tuple[IntArray, IntArray]:
    n = len(order) - len(order) % batch_size if drop else len(order)
    bounds = np.arange(0, n + batch_size, batch_size, dtype=np.int64)
    bounds[-1] = min(int(bounds[-1]), n)
    if len(bounds) > 1 and bounds[-1] == bounds[-2]:
        bounds = bounds[:-1]
    return order[:n], bounds  # a view: no copy of the ids


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
    dataset_starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    total = int(dataset_starts[-1])
    if weights is not None:
        picks = _sampled_batches(counts, weights, seed=seed, epoch=epoch)
        order = dataset_starts[picks >> _DATASET_SHIFT] + (picks & ((1 << _DATASET_SHIFT) - 1))
    else:
        order = np.arange(total, dtype=_index_dtype(total))
        if shuffle:
            epoch_rng(seed, epoch, len(counts)).shuffle(order)
    if len(per_dataset) == 1:
        ids, bounds = per_dataset[0]
    else:
        sizes = [len(ids) for ids, _ in per_dataset]
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        ids = (
            np.concatenate([ids for ids, _ in per_dataset])
            if per_dataset
            else np.zeros(0, np.int64)
        )
        bounds = np.concatenate(
            [b[:-1] + off for (_, b), off in zip(per_dataset, offsets[:-1], strict=True)]
            + [np.asarray([offsets[-1]])]
        ).astype(np.int64)
    return BatchPlan(ids, bounds, dataset_starts, order)


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
