"""Collation of a list of examples into a batch, outside a pipeline."""

from __future__ import annotations

from typing import final

from seqkit import _native


@final
class Collater:
    """Collates a list of examples like the pipeline's ``collate()`` operator.

    Dicts and lists are collated field by field; numeric arrays are stacked, or, with
    ``pad_value``, right-padded into ``{"seqs", "seq_lens", "is_ragged"}``; ints, floats
    and bools become 1-d tensors; strings and other objects are gathered into lists.
    """

    def __init__(self, pad_value: int | None = None, pad_to_multiple: int = 1) -> None:
        if pad_to_multiple < 1:
            raise ValueError(f"pad_to_multiple must be at least 1, got {pad_to_multiple}")
        self._pad_value = pad_value
        self._pad_to_multiple = pad_to_multiple

    def __call__(self, batch: list[object]) -> object:
        """Collate ``batch``; raises :class:`~seqkit.data.errors.CollateError` if it cannot."""
        return _native.collate_batch(batch, self._pad_value, self._pad_to_multiple)
