"""The training batches the readers produce, and the native gathers that build them.

Each gather turns one planned batch (a dataset and example ids, see
:mod:`seqkit.data.batch_plan`) into tensors in one C++ call that runs without the GIL:
windows of packed rows with their document boundaries, or padded documents.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar, final

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from seqkit import _native
from seqkit.data.token_dataset import TokenColumn, TokenDataset

BatchT_co = TypeVar("BatchT_co", covariant=True)


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


class BatchGather(Protocol[BatchT_co]):
    """Builds the batch of examples ``ids`` of dataset ``dataset``."""

    def __call__(self, dataset: int, ids: npt.NDArray[np.int64]) -> BatchT_co: ...


@final
class WindowGather:
    """Packed rows: window ``w`` of a dataset covers its tokens ``[w*L, w*L + L + 1)``, so
    every token is a target exactly once per epoch and rows cross document boundaries."""

    def __init__(self, datasets: Sequence[TokenDataset], seq_len: int) -> None:
        self._columns = [ds.column("") for ds in datasets]
        self._seq_len = seq_len

    def __call__(self, dataset: int, ids: npt.NDArray[np.int64]) -> PackedBatch:
        col = self._columns[dataset]
        rows, pieces, counts = _native.gather_windows(col.tokens, col.offsets, ids, self._seq_len)
        data = torch.from_numpy(rows)
        bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
        flat = pieces.tolist()
        doc_lens = [flat[a:b] for a, b in itertools.pairwise(bounds)]
        return PackedBatch(seqs=data[:, :-1], targets=data[:, 1:], doc_lens=doc_lens)


def num_windows(dataset: TokenDataset, seq_len: int) -> int:
    """How many rows of ``seq_len`` inputs (+1 shifted target) the dataset's tokens make."""
    return max(0, (len(dataset.column("").tokens) - 1) // seq_len)


@final
class PairGather:
    """Translation pairs from the ``source`` and ``target`` columns; targets are full
    sequences (``<s> __lang__ ... </s>``) that the batch shifts into input and output."""

    def __init__(self, datasets: Sequence[TokenDataset], pad_idx: int) -> None:
        self._columns = [(ds.column("source"), ds.column("target")) for ds in datasets]
        self._pad = pad_idx

    def __call__(self, dataset: int, ids: npt.NDArray[np.int64]) -> PairBatch:
        source, target = self._columns[dataset]
        src, src_lens = _padded(source, ids, self._pad)
        tgt, tgt_lens = _padded(target, ids, self._pad)
        return PairBatch(
            source=src,
            source_lens=src_lens,
            target_in=tgt[:, :-1],
            target_out=tgt[:, 1:],
            target_lens=tgt_lens - 1,
        )


@final
class MaskedGather:
    """Fine-tuning examples from the ``tokens`` and ``target_mask`` columns: the mask is 1
    where a token is a response token the model must produce."""

    def __init__(self, datasets: Sequence[TokenDataset], pad_idx: int) -> None:
        self._columns = [(ds.column("tokens"), ds.column("target_mask")) for ds in datasets]
        self._pad = pad_idx

    def __call__(self, dataset: int, ids: npt.NDArray[np.int64]) -> MaskedBatch:
        tokens, mask = self._columns[dataset]
        ids_padded, lens = _padded(tokens, ids, self._pad)
        mask_padded, _ = _padded(mask, ids, 0)
        return MaskedBatch(
            seqs=ids_padded[:, :-1],
            targets=ids_padded[:, 1:],
            seq_lens=lens - 1,
            loss_mask=mask_padded[:, 1:].bool(),
        )


def _padded(column: TokenColumn, ids: npt.NDArray[np.int64], pad: int) -> tuple[Tensor, Tensor]:
    out, lens = _native.gather_padded(column.tokens, column.offsets, ids, pad)
    return torch.from_numpy(out), torch.from_numpy(lens)
