"""The stages of ``seqkit data preprocess`` as a native data pipeline.

``read_text`` (C++, memory-mapped, invalid UTF-8 yielded as ``bytes``) -> ``bucket`` of
lines -> ``prefetch`` -> ``map(CheckStage)`` (bad-line checks) -> ``prefetch`` (the next
bucket is read and checked while this one is encoded) -> ``map(EncodeStage)`` (the
tokenizer's multithreaded batch encode, the ids joined into one array in C++, the token
limit). A parallel corpus zips the buckets of its sides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast, final

import numpy as np

from seqkit.data import DataPipeline, TokenDType, read_text, utf8_size
from seqkit.data import zip as zip_pipelines
from seqkit.text.errors import PreprocessError
from seqkit.text.line_policy import SkipReason, classify_batch
from seqkit.text.tokenizer import FlatEncoding, TextTokenEncoder, flatten

# Buckets prepared ahead of the encoder: one keeps it busy, more only hold memory (16384
# lines ~ 2 MB). Reading (C++) and checking (Python: str conversion and bad-line checks,
# ~10% of the encode time) of the next bucket run in the background while SentencePiece
# encodes this one with the GIL released; encoding stays on the consumer's thread.
_AHEAD = 1


@final
@dataclass(frozen=True, kw_only=True)
class CheckedBatch:
    """One bucket of input lines after the bad-line checks."""

    num_lines: int
    """Input lines in the bucket (per side; the sides of a parallel corpus are aligned)."""

    num_bytes: int
    """UTF-8 bytes of those lines with one newline each, all sides (for progress bars)."""

    sides: list[list[str]]
    """The kept lines of each side."""

    skipped: list[tuple[int, int, SkipReason]]
    """``(line index in the bucket, side, reason)`` of each skipped line (or pair)."""


@final
@dataclass(frozen=True, kw_only=True)
class EncodedBatch:
    """One bucket after encoding: what to write and what to report."""

    num_lines: int
    """Input lines in the bucket (per side)."""

    num_bytes: int
    """UTF-8 bytes of those lines with one newline each, all sides."""

    sides: list[FlatEncoding]
    """The kept documents of each side, ids already in the dataset's dtype."""

    skipped: list[tuple[int, int, SkipReason]]
    """``(line index in the bucket, side, reason)``, over-long documents included."""

    texts: list[list[str]] | None = None
    """The text of each kept document per side, aligned with ``sides`` (only when the
    :class:`EncodeStage` was asked to keep it, else ``None``)."""


@final
class CheckStage:
    """``map`` callable 1: the bad-line checks of one bucket (one list per side)."""

    def __init__(self, *, max_bytes: int | None) -> None:
        self._max_bytes = max_bytes

    def __call__(self, bucket: list[str | bytes] | tuple[list[str | bytes], ...]) -> CheckedBatch:
        sides = [bucket] if isinstance(bucket, list) else list(bucket)
        if len({len(lines) for lines in sides}) != 1:
            # count_lines() checked the files before the run: they changed since.
            raise PreprocessError(
                "The parallel inputs went out of step while being read; "
                "do not modify them during preprocessing."
            )
        first: dict[int, tuple[int, SkipReason]] = {}
        for side, lines in enumerate(sides):
            for i, reason in classify_batch(lines, max_bytes=self._max_bytes):
                first.setdefault(i, (side, reason))  # a pair is reported for its first bad side
        return CheckedBatch(
            num_lines=len(sides[0]),
            num_bytes=sum(utf8_size(lines) + len(lines) for lines in sides),
            sides=_drop(sides, set(first)),
            skipped=[(i, side, reason) for i, (side, reason) in sorted(first.items())],
        )


@final
class EncodeStage:
    """``map`` callable 2: batch encoding of the kept lines, ids joined in C++, length limit.

    With ``keep_text`` the batches also carry the text of their kept documents (the lists
    the check stage made, so nothing is copied unless the token limit drops a row).
    """

    def __init__(
        self,
        encoders: Sequence[TextTokenEncoder],
        *,
        dtype: TokenDType,
        max_tokens: int | None,
        keep_text: bool = False,
    ) -> None:
        self._encoders = list(encoders)
        self._dtype = dtype
        self._max_tokens = max_tokens
        self._keep_text = keep_text

    def __call__(self, batch: CheckedBatch) -> EncodedBatch:
        flats = [
            flatten(
                encoder.encode_ids_batch(lines),
                encoder.prefix_ids,
                encoder.suffix_ids,
                dtype=self._dtype,
            )
            for encoder, lines in zip(self._encoders, batch.sides, strict=True)
        ]
        skipped = batch.skipped
        texts = batch.sides if self._keep_text else None
        if self._max_tokens is not None:
            flats, too_long = _drop_too_long(flats, self._max_tokens)
            if too_long:
                bad = {i for i, _, _ in skipped}
                rows = [i for i in range(batch.num_lines) if i not in bad]
                skipped = sorted(
                    skipped + [(rows[k], side, SkipReason.TOO_LONG) for k, side in too_long]
                )
                if texts is not None:
                    dropped = {k for k, _ in too_long}
                    texts = [[t for k, t in enumerate(ts) if k not in dropped] for ts in texts]
        return EncodedBatch(
            num_lines=batch.num_lines,
            num_bytes=batch.num_bytes,
            sides=flats,
            skipped=skipped,
            texts=texts,
        )


def _drop(sides: list[list[str | bytes]], bad: set[int]) -> list[list[str]]:
    # Kept lines are str by classify_batch's contract (bytes means invalid UTF-8).
    if bad:
        sides = [[line for i, line in enumerate(lines) if i not in bad] for lines in sides]
    return cast(list[list[str]], sides)


def _drop_too_long(
    flats: list[FlatEncoding], max_tokens: int
) -> tuple[list[FlatEncoding], list[tuple[int, int]]]:
    """Remove rows with more than ``max_tokens`` ids on any side; ``(row, side)`` of each."""
    over_any = np.zeros(flats[0].lengths.shape[0], dtype=bool)
    reported: list[tuple[int, int]] = []
    for side, flat in enumerate(flats):
        over = (flat.lengths > max_tokens) & ~over_any
        reported += [(int(k), side) for k in np.flatnonzero(over)]
        over_any |= over
    if not reported:
        return flats, []
    keep = ~over_any
    kept = [
        FlatEncoding(tokens=f.tokens[np.repeat(keep, f.lengths)], lengths=f.lengths[keep])
        for f in flats
    ]
    return kept, sorted(reported)


def build_pipeline(
    paths: Sequence[Path], check: CheckStage, encode: EncodeStage, *, batch_lines: int
) -> DataPipeline:
    """``read_text`` of each path in buckets of ``batch_lines`` (zipped when parallel),
    checked ahead in the background, encoded on the consumer's thread."""
    readers = [
        read_text(path, encoding_errors="report").bucket(batch_lines).prefetch(_AHEAD)
        for path in paths
    ]
    if len(readers) == 1:
        source = readers[0]
    else:
        source = zip_pipelines([reader.and_return() for reader in readers])
    return source.map(check).prefetch(_AHEAD).map(encode).and_return()
