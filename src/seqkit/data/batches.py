"""The training batches the readers produce, and the native gathers that build them.

Each gather turns one planned batch (a dataset and example ids, see
:mod:`seqkit.data.batch_plan`) into tensors in C++ (``native/src/batch_gather.cc``), as a
map step of the pipeline that never takes the GIL: windows of packed rows with their
document boundaries, or padded documents. Python only wraps the finished tensors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, final

import numpy as np
import numpy.typing as npt
from torch import Tensor
from typing_extensions import override

from seqkit import _native
from seqkit.data.batch_plan import BatchPlan
from seqkit.data.token_dataset import TokenColumn, TokenDataset

BatchT = TypeVar("BatchT")


@final
@dataclass(frozen=True, kw_only=True)
class PackedBatch:
    """Packed language-model rows: ``targets`` are ``seqs`` shifted left by one token."""

    seqs: Tensor
    """Input ids ``[B, L]``."""

    targets: Tensor
    """Next-token ids ``[B, L]``."""

    doc_lens: list[list[int]]
    """Per row, the lengths of the document pieces in its input (summing to ``L``)."""

    @property
    def num_targets(self) -> int:
        """Number of predicted tokens."""
        return int(self.targets.numel())


@final
@dataclass(frozen=True, kw_only=True)
class MaskedBatch:
    """Right-padded sequences with a loss mask over target positions (fine-tuning)."""

    seqs: Tensor
    """Input ids ``[B, S]``; past ``seq_lens`` a row holds padding or its own last token,
    masked either way."""

    targets: Tensor
    """Next-token ids ``[B, S]``."""

    seq_lens: Tensor
    """Unpadded input length of each row ``[B]``."""

    loss_mask: Tensor
    """``[B, S]`` booleans: which targets are in the loss."""

    @property
    def num_targets(self) -> int:
        """Number of tokens in the loss."""
        return int(self.loss_mask.sum())


@final
@dataclass(frozen=True, kw_only=True)
class PairBatch:
    """Right-padded source and target sides of sentence pairs (translation)."""

    source: Tensor
    """Source ids ``[B, S_src]``."""

    source_lens: Tensor
    """Unpadded source lengths ``[B]``."""

    target_in: Tensor
    """Decoder input ids ``[B, S_tgt]`` (the target without its last token; past
    ``target_lens`` padding or that last token, masked either way)."""

    target_out: Tensor
    """Ids to predict ``[B, S_tgt]`` (the target without its first token)."""

    target_lens: Tensor
    """Unpadded decoder lengths ``[B]``."""

    @property
    def num_targets(self) -> int:
        """Number of predicted (non-padding) tokens."""
        return int(self.target_lens.sum())


class BatchGather(ABC, Generic[BatchT]):
    """How the batches of a plan are made: a native step that gathers and pads the planned
    examples off the GIL (:meth:`planned`), and the wrapping of its arrays (:meth:`finish`)."""

    @abstractmethod
    def planned(self, plan: BatchPlan) -> _native.PlannedGather:
        """The native map step for ``plan``: a batch position in, its arrays out."""

    @abstractmethod
    def finish(self, arrays: dict[str, Any]) -> BatchT:
        """The batch made of the arrays :meth:`planned`'s step produced."""


def _plan_args(plan: BatchPlan) -> dict[str, npt.NDArray[Any]]:
    return {
        "ids": np.ascontiguousarray(plan.ids),
        "bounds": np.ascontiguousarray(plan.bounds, dtype=np.int64),
        "dataset_starts": np.ascontiguousarray(plan.dataset_starts, dtype=np.int64),
        "order": np.ascontiguousarray(plan.order),
    }


def _column_arrays(column: TokenColumn) -> tuple[npt.NDArray[Any], npt.NDArray[np.uint64]]:
    return column.tokens, column.offsets


@final
class WindowGather(BatchGather[PackedBatch]):
    """Packed rows: window ``w`` of a dataset covers its tokens ``[w*L, w*L + L + 1)``, so
    every token is a target exactly once per epoch and rows cross document boundaries."""

    def __init__(self, datasets: Sequence[TokenDataset], seq_len: int) -> None:
        self._columns = [[_column_arrays(ds.column(""))] for ds in datasets]
        self._seq_len = seq_len

    @override
    def planned(self, plan: BatchPlan) -> _native.PlannedGather:
        return _native.PlannedGather(
            "windows", self._columns, [], self._seq_len, **_plan_args(plan)
        )

    @override
    def finish(self, arrays: dict[str, Any]) -> PackedBatch:
        data: Tensor = arrays["rows"]
        # Plain lists and slicing: this runs on the training loop's thread, between steps,
        # where each NumPy call on cold caches costs ~10 us (docs/benchmarks.md, data wait).
        flat: list[int] = arrays["pieces"].tolist()
        doc_lens = []
        start = 0
        for n in arrays["counts"].tolist():
            doc_lens.append(flat[start : start + n])
            start += n
        return PackedBatch(seqs=data[:, :-1], targets=data[:, 1:], doc_lens=doc_lens)


def num_windows(dataset: TokenDataset, seq_len: int) -> int:
    """How many rows of ``seq_len`` inputs (+1 shifted target) the dataset's tokens make."""
    return max(0, (len(dataset.column("").tokens) - 1) // seq_len)


@final
class PairGather(BatchGather[PairBatch]):
    """Translation pairs from the ``source`` and ``target`` columns; targets are full
    sequences (``<s> __lang__ ... </s>``) that the batch shifts into input and output."""

    def __init__(self, datasets: Sequence[TokenDataset], pad_idx: int) -> None:
        self._columns = [
            [_column_arrays(ds.column("source")), _column_arrays(ds.column("target"))]
            for ds in datasets
        ]
        self._pad = pad_idx

    @override
    def planned(self, plan: BatchPlan) -> _native.PlannedGather:
        pads = [self._pad, self._pad]
        return _native.PlannedGather("padded", self._columns, pads, 0, **_plan_args(plan))

    @override
    def finish(self, arrays: dict[str, Any]) -> PairBatch:
        target: Tensor = arrays["c1"]
        return PairBatch(
            source=arrays["c0"],
            source_lens=arrays["c0_lens"],
            target_in=target[:, :-1],
            target_out=target[:, 1:],
            target_lens=arrays["c1_lens"] - 1,
        )


@final
class MaskedGather(BatchGather[MaskedBatch]):
    """Fine-tuning examples from the ``tokens`` and ``target_mask`` columns: the mask is 1
    where a token is a response token the model must produce."""

    def __init__(self, datasets: Sequence[TokenDataset], pad_idx: int) -> None:
        self._columns = [
            [_column_arrays(ds.column("tokens")), _column_arrays(ds.column("target_mask"))]
            for ds in datasets
        ]
        self._pad = pad_idx

    @override
    def planned(self, plan: BatchPlan) -> _native.PlannedGather:
        pads = [self._pad, 0]
        return _native.PlannedGather("padded", self._columns, pads, 0, **_plan_args(plan))

    @override
    def finish(self, arrays: dict[str, Any]) -> MaskedBatch:
        tokens: Tensor = arrays["c0"]
        mask: Tensor = arrays["c1"]
        return MaskedBatch(
            seqs=tokens[:, :-1],
            targets=tokens[:, 1:],
            seq_lens=arrays["c0_lens"] - 1,
            loss_mask=mask[:, 1:].bool(),
        )
