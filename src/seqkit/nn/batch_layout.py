"""How the sequences of a batch sit in their rows: right padding or packed documents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import final

import torch
from torch import Tensor

from seqkit.nn.errors import BatchLayoutError


@final
class BatchLayout:
    """Describes the valid positions of a ``[B, S]`` batch.

    * ``BatchLayout()``: every row is full, no padding.
    * ``BatchLayout(seq_lens)``: row ``b`` holds one sequence in ``[0, seq_lens[b])``,
      the rest is right padding.
    * ``BatchLayout.packed(doc_lens)``: row ``b`` holds several documents back to back
      (lengths ``doc_lens[b]``); attention never crosses a document boundary and
      positions restart at 0 for every document. Positions past the last document
      are padding.
    """

    def __init__(self, seq_lens: Tensor | Sequence[int] | None = None) -> None:
        if seq_lens is not None and not isinstance(seq_lens, Tensor):
            seq_lens = torch.tensor(list(seq_lens), dtype=torch.int64)
        if seq_lens is not None and seq_lens.dim() != 1:
            raise BatchLayoutError(
                f"`seq_lens` must be a 1-D tensor of row lengths, got shape "
                f"{tuple(seq_lens.shape)}; pass one length per row."
            )
        self._seq_lens = seq_lens
        self._doc_lens: list[list[int]] | None = None

    @staticmethod
    def packed(doc_lens: Sequence[Sequence[int]]) -> BatchLayout:
        """A layout of rows that each hold several documents of the given lengths."""
        rows = [[int(n) for n in row] for row in doc_lens]
        for b, row in enumerate(rows):
            if any(n <= 0 for n in row):
                raise BatchLayoutError(
                    f"Row {b} of the packed layout has a document length <= 0 ({row}); "
                    "drop empty documents before packing."
                )
        layout = BatchLayout(torch.tensor([sum(row) for row in rows], dtype=torch.int64))
        layout._doc_lens = rows
        return layout

    @property
    def seq_lens(self) -> Tensor | None:
        """The number of valid positions of each row, or ``None`` when no row is padded."""
        return self._seq_lens

    @property
    def doc_lens(self) -> list[list[int]] | None:
        """The document lengths of each row of a packed layout, else ``None``."""
        return self._doc_lens

    @property
    def is_packed(self) -> bool:
        """Whether rows hold several documents each."""
        return self._doc_lens is not None

    def check(self, seqs: Tensor) -> None:
        """Raise :class:`BatchLayoutError` if this layout cannot describe ``seqs``."""
        if self._seq_lens is None:
            return
        batch_size, seq_len = seqs.shape[0], seqs.shape[1]
        if self._seq_lens.numel() != batch_size:
            raise BatchLayoutError(
                f"The layout has {self._seq_lens.numel()} row lengths but the batch has "
                f"{batch_size} rows; build the layout from this batch's `seq_lens`."
            )
        longest = int(self._seq_lens.max()) if batch_size else 0
        if longest > seq_len:
            raise BatchLayoutError(
                f"The layout says a row holds {longest} tokens but the batch is only "
                f"{seq_len} wide; the layout does not belong to this batch."
            )

    def padding_mask(self, seq_len: int, device: torch.device) -> Tensor | None:
        """``[B, S]`` bool, ``True`` at valid positions; ``None`` when nothing is padded."""
        if self._seq_lens is None:
            return None
        seq_lens = self._seq_lens.to(device)
        steps = torch.arange(seq_len, device=device)
        return steps[None, :] < seq_lens[:, None]

    def document_ids(self, seq_len: int, device: torch.device) -> Tensor | None:
        """``[B, S]`` document index of each position (``-1`` for padding) if packed."""
        if self._doc_lens is None:
            return None
        ids = torch.full((len(self._doc_lens), seq_len), -1, dtype=torch.int64)
        for b, row in enumerate(self._doc_lens):
            start = 0
            for d, n in enumerate(row):
                ids[b, start : start + n] = d
                start += n
        return ids.to(device)

    def positions(self, seq_len: int, device: torch.device, *, start: int = 0) -> Tensor:
        """Position of each token: ``[S]`` shared by all rows, or ``[B, S]`` if packed."""
        if self._doc_lens is None:
            return torch.arange(start, start + seq_len, device=device)
        pos = torch.zeros((len(self._doc_lens), seq_len), dtype=torch.int64)
        for b, row in enumerate(self._doc_lens):
            offset = 0
            for n in row:
                pos[b, offset : offset + n] = torch.arange(n)
                offset += n
        return (pos + start).to(device)

    def __repr__(self) -> str:
        if self._doc_lens is not None:
            return f"BatchLayout.packed({self._doc_lens})"
        if self._seq_lens is None:
            return "BatchLayout()"
        return f"BatchLayout(seq_lens={self._seq_lens.tolist()})"
