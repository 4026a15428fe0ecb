"""Packed language-model rows cut from a token stream, with document boundaries."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from seqkit.recipes.token_data import TokenStream


@dataclass(frozen=True, kw_only=True)
class PackedBatch:
    """A batch of packed rows: ``targets`` are ``seqs`` shifted left by one token."""

    seqs: Tensor
    """Input ids, ``[B, L]``."""

    targets: Tensor
    """Next-token ids, ``[B, L]``."""

    doc_lens: list[list[int]]
    """Per row, the lengths of the document pieces in it (summing to ``L``)."""

    @property
    def num_targets(self) -> int:
        """Number of predicted tokens."""
        return int(self.targets.numel())


class PackedRows:
    """Windows of ``L + 1`` tokens over a stream, stepping by ``L``.

    Row ``r`` covers stream positions ``[r*L, r*L + L]``: every token is a target exactly
    once. Rows are sliced lazily, so a memory-mapped dataset is never loaded whole.
    """

    def __init__(self, stream: TokenStream, seq_len: int) -> None:
        self._stream = stream
        self._seq_len = seq_len
        self._starts = np.asarray(stream.offsets[:-1], dtype=np.int64)

    def __len__(self) -> int:
        return max(0, (len(self._stream.tokens) - 1) // self._seq_len)

    def row(self, index: int) -> tuple[np.ndarray, list[int]]:
        """Tokens of row ``index`` (``L + 1`` ids) and its input's document lengths."""
        begin = index * self._seq_len
        end = begin + self._seq_len
        ids = np.asarray(self._stream.tokens[begin : end + 1], dtype=np.int64)
        # Document starts strictly inside the input window split it into pieces.
        lo = int(np.searchsorted(self._starts, begin, side="right"))
        hi = int(np.searchsorted(self._starts, end, side="left"))
        cuts = [begin, *self._starts[lo:hi].tolist(), end]
        lens = [b - a for a, b in itertools.pairwise(cuts) if b > a]
        return ids, lens

    def batch(self, indices: list[int]) -> PackedBatch:
        """Stack rows ``indices`` into a :class:`PackedBatch`."""
        rows, doc_lens = zip(*(self.row(i) for i in indices))
        data = torch.from_numpy(np.stack(rows))
        return PackedBatch(seqs=data[:, :-1], targets=data[:, 1:], doc_lens=list(doc_lens))
