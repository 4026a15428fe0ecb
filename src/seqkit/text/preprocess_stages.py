"""The stages of ``seqkit data preprocess`` as a native data pipeline.

``read_text`` (C++, memory-mapped, invalid UTF-8 yielded as ``bytes``) -> ``bucket`` of
lines -> ``prefetch`` (the next bucket is read while this one is encoded) ->
``map(EncodeStage)`` (bad-line checks, the tokenizer's multithreaded batch encode, and
the ids joined into one array in C++). A parallel corpus zips the buckets of its sides.
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

# Buckets read ahead of the encoder: one keeps it busy, more only hold memory (16384
# lines ~ 2 MB). The encode stage itself runs on the consumer's thread: a prefetch after
# it cost 10-25% more CPU on 2 cores (its Python work then fights the writer for the GIL
# and the encoder's threads for the cores), while writing a bucket takes ~1% of encoding.
_READ_AHEAD = 1


@final
@dataclass(frozen=True, kw_only=True)
class EncodedBatch:
    """One bucket of input lines after encoding: what to write and what to report."""

    num_lines: int
    """Input lines in the bucket (per side; the sides of a parallel corpus are aligned)."""

    num_bytes: int
    """UTF-8 bytes of those lines with one newline each, all sides (for progress bars)."""

    sides: list[FlatEncoding]
    """The kept documents of each side, ids already in the dataset's dtype."""

    skipped: list[tuple[int, int, SkipReason]]
    """``(line index in the bucket, side, reason)`` of each skipped line (or pair)."""


@final
class EncodeStage:
    """The ``map`` callable: bad-line checks, batch encoding, and flattening of one bucket."""

    def __init__(
        self,
        encoders: Sequence[TextTokenEncoder],
        *,
        dtype: TokenDType,
        max_bytes: int | None,
        max_tokens: int | None,
    ) -> None:
        self._encoders = list(encoders)
        self._dtype = dtype
        self._max_bytes = max_bytes
        self._max_tokens = max_tokens

    def __call__(self, bucket: list[str | bytes] | tuple[list[str | bytes], ...]) -> EncodedBatch:
        sides = [bucket] if isinstance(bucket, list) else list(bucket)
        sizes = {len(lines) for lines in sides}
        if len(sizes) != 1:
            # count_lines() checked the files before the run: they changed since.
            raise PreprocessError(
                "The parallel inputs went out of step while being read; "
                "do not modify them during preprocessing."
            )
        skipped = self._classify(sides)
        bad = {i for i, _, _ in skipped}
        kept = _drop(sides, bad)
        flats = [
            flatten(
                encoder.encode_ids_batch(lines),
                encoder.prefix_ids,
                encoder.suffix_ids,
                dtype=self._dtype,
            )
            for encoder, lines in zip(self._encoders, kept, strict=True)
        ]
        if self._max_tokens is not None:
            flats, too_long = _drop_too_long(flats, self._max_tokens)
            if too_long:
                rows = [i for i in range(len(sides[0])) if i not in bad]
                skipped = sorted(
                    skipped + [(rows[k], side, SkipReason.TOO_LONG) for k, side in too_long]
                )
        return EncodedBatch(
            num_lines=len(sides[0]),
            num_bytes=sum(utf8_size(lines) + len(lines) for lines in sides),
            sides=flats,
            skipped=skipped,
        )

    def _classify(self, sides: list[list[str | bytes]]) -> list[tuple[int, int, SkipReason]]:
        first: dict[int, tuple[int, SkipReason]] = {}
        for side, lines in enumerate(sides):
            for i, reason in classify_batch(lines, max_bytes=self._max_bytes):
                first.setdefault(i, (side, reason))  # a pair is reported for its first bad side
        return [(i, side, reason) for i, (side, reason) in sorted(first.items())]


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


def build_pipeline(paths: Sequence[Path], stage: EncodeStage, *, batch_lines: int) -> DataPipeline:
    """``read_text`` of each path in buckets of ``batch_lines`` (zipped when parallel),
    encoded by ``stage`` in the background."""
    readers = [
        read_text(path, encoding_errors="report").bucket(batch_lines).prefetch(_READ_AHEAD)
        for path in paths
    ]
    if len(readers) == 1:
        source = readers[0]
    else:
        source = zip_pipelines([reader.and_return() for reader in readers])
    return source.map(stage).and_return()
