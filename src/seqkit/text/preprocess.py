"""Binarization of monolingual or parallel text into token datasets (``seqkit data preprocess``).

Lines stream through in chunks: while one chunk is being encoded (SentencePiece releases
the GIL and uses every core), the next is read and checked, and the previous one written.
Bad lines follow the policy of :mod:`seqkit.text.lines`; in a parallel corpus a pair is
skipped when either side is bad, so the two sides stay aligned.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, cast, final

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from seqkit.text.errors import PreprocessError
from seqkit.text.lines import LineChunkReader, LineReport, SkipReason, classify_chunk
from seqkit.text.token_writer import AtomicDirectory, TokenDatasetWriter, token_dtype, write_json
from seqkit.text.tokenizer import TextTokenEncoder, flatten

MANIFEST_FORMAT: Final = "seqkit.tokens.manifest"


@final
@dataclass(kw_only=True)
class PreprocessOptions:
    """How to binarize; the defaults suit corpora of any size."""

    max_tokens: int | None = None
    """Skip (and count) documents with more tokens than this, special tokens included."""

    max_bytes: int | None = 1 << 20
    """Skip (and count) lines longer than this many bytes before encoding them."""

    chunk_lines: int = 16384
    """Lines encoded per batch; larger batches amortize per-call costs over more threads."""

    overwrite: bool = False
    """Replace an existing output directory (only once the new one is complete)."""

    progress: bool = True
    """Show a tqdm progress bar over the input bytes."""

    def __post_init__(self) -> None:
        if self.max_tokens is not None and self.max_tokens <= 0:
            raise PreprocessError(f"max_tokens must be positive, got {self.max_tokens}.")
        if self.chunk_lines <= 0:
            raise PreprocessError(f"chunk_lines must be positive, got {self.chunk_lines}.")


@final
@dataclass(frozen=True, kw_only=True)
class Column:
    """One side of the corpus: a text file, how to encode it, and where it goes."""

    path: Path
    """The input text file."""

    encoder: TextTokenEncoder
    """The encoder (its mode decides the special tokens)."""

    subdir: str | None = None
    """Subdirectory of the output (``"source"``/``"target"``), ``None`` for the root."""

    info: dict[str, object] = field(default_factory=dict)
    """Extra facts for the manifest (mode, language)."""


@final
@dataclass(frozen=True, kw_only=True)
class PreprocessResult:
    """The finished dataset and its manifest."""

    output: Path
    """The dataset directory."""

    manifest: dict[str, object]
    """What ``manifest.json`` holds."""

    report: LineReport
    """Read, kept and skipped lines."""


@dataclass
class _Chunk:
    future: Future[list[list[list[int]]]]
    line_numbers: npt.NDArray[np.int64]
    """1-based input line number of each row (for reports)."""


def preprocess(
    columns: Sequence[Column],
    output: Path,
    *,
    vocab_size: int,
    tokenizer: dict[str, object],
    options: PreprocessOptions | None = None,
) -> PreprocessResult:
    """Binarize ``columns`` (one: monolingual; two: parallel, aligned by line) to ``output``."""
    options = options or PreprocessOptions()
    for column in columns:
        if not column.path.is_file():
            raise PreprocessError(f"Input {column.path} does not exist.", path=column.path)
    dtype = token_dtype(vocab_size)
    report = LineReport()
    with AtomicDirectory(output, overwrite=options.overwrite) as temp:
        writers = [
            TokenDatasetWriter(temp / c.subdir if c.subdir else temp, dtype) for c in columns
        ]
        try:
            _run(columns, writers, report, options)
        except BaseException:
            for writer in writers:
                writer.abort()
            raise
        indexes = [writer.close() for writer in writers]
        if report.lines_kept == 0:
            raise PreprocessError(
                f"No usable line in {', '.join(str(c.path) for c in columns)} "
                f"({report.summary()}); nothing was written.",
                path=columns[0].path,
            )
        manifest = _manifest(columns, indexes, report, tokenizer, options)
        write_json(temp / "manifest.json", manifest)
    return PreprocessResult(output=output, manifest=manifest, report=report)


def _run(
    columns: Sequence[Column],
    writers: list[TokenDatasetWriter],
    report: LineReport,
    options: PreprocessOptions,
) -> None:
    total = sum(c.path.stat().st_size for c in columns)
    readers = [LineChunkReader(c.path, chunk_lines=options.chunk_lines) for c in columns]
    line_no = 0
    pending: _Chunk | None = None
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="seqkit-encode") as pool,
        tqdm(
            total=total, unit="B", unit_scale=True, disable=not options.progress, desc="encode"
        ) as bar,
    ):
        for chunks in itertools.zip_longest(*readers):
            _check_aligned(columns, chunks, line_no)
            rows, line_numbers = _classify(columns, chunks, line_no, report, options.max_bytes)
            line_no += len(chunks[0] or ())
            bar.update(sum(r.bytes_read for r in readers) - bar.n)
            if not rows[0]:
                continue
            future = pool.submit(_encode, columns, rows)
            if pending is not None:
                _finish(pending, columns, writers, report, options)
            pending = _Chunk(future, line_numbers)
        if pending is not None:
            _finish(pending, columns, writers, report, options)


def _classify(
    columns: Sequence[Column],
    chunks: tuple[list[str | bytes] | None, ...],
    line_no: int,
    report: LineReport,
    max_bytes: int | None,
) -> tuple[list[list[str]], npt.NDArray[np.int64]]:
    """The kept texts of each column, and the 1-based line number of each."""
    size = len(chunks[0] or ())
    report.lines_read += size
    keep = [True] * size
    columns_lines = []
    for column, chunk in zip(columns, chunks):
        lines, skipped = classify_chunk(chunk or [], max_bytes=max_bytes)
        columns_lines.append(lines)
        for i, reason in skipped:
            if keep[i]:  # a pair is reported once, for its first bad side
                keep[i] = False
                report.skip(reason, f"{column.path}:{line_no + i + 1}")
    if all(keep):
        # Every line of the chunk is a kept str (classify_chunk found nothing to skip).
        rows = [cast(list[str], lines) for lines in columns_lines]
        return rows, np.arange(line_no + 1, line_no + size + 1, dtype=np.int64)
    kept = [i for i in range(size) if keep[i]]
    rows = [[str(lines[i]) for i in kept] for lines in columns_lines]
    return rows, np.asarray(kept, dtype=np.int64) + (line_no + 1)


def _check_aligned(
    columns: Sequence[Column], chunks: tuple[list[str | bytes] | None, ...], line_no: int
) -> None:
    sizes = [None if chunk is None else len(chunk) for chunk in chunks]
    if len(set(sizes)) > 1:
        counts = ", ".join(
            f"{c.path}: {'no more' if s is None else s} lines from line {line_no + 1}"
            for c, s in zip(columns, sizes)
        )
        raise PreprocessError(
            f"The parallel inputs have different numbers of lines ({counts}); "
            "align them so that line i of each file is a translation pair.",
            path=columns[0].path,
        )


def _encode(columns: Sequence[Column], rows: list[list[str]]) -> list[list[list[int]]]:
    # Runs in the worker thread: SentencePiece drops the GIL here, so the main thread
    # flattens and writes the previous chunk meanwhile.
    return [c.encoder.encode_ids_batch(texts) for c, texts in zip(columns, rows)]


def _finish(
    chunk: _Chunk,
    columns: Sequence[Column],
    writers: list[TokenDatasetWriter],
    report: LineReport,
    options: PreprocessOptions,
) -> None:
    dtype = writers[0].dtype
    flats = [
        flatten(ids, column.encoder.prefix_ids, column.encoder.suffix_ids, dtype=dtype)
        for column, ids in zip(columns, chunk.future.result())
    ]
    keep: npt.NDArray[np.bool_] | None = None
    if options.max_tokens is not None:
        too_long = np.zeros(flats[0].lengths.shape[0], dtype=bool)
        for side, flat in enumerate(flats):
            over = (flat.lengths > options.max_tokens) & ~too_long
            for i in np.flatnonzero(over):
                report.skip(SkipReason.TOO_LONG, f"{columns[side].path}:{chunk.line_numbers[i]}")
            too_long |= over
        if too_long.any():
            keep = ~too_long
    for writer, flat in zip(writers, flats):
        tokens, lengths = flat.tokens, flat.lengths
        if keep is not None:
            tokens = tokens[np.repeat(keep, lengths)]
            lengths = lengths[keep]
        writer.write(tokens, lengths)
    report.lines_kept += int(flats[0].lengths.shape[0] if keep is None else keep.sum())


def _manifest(
    columns: Sequence[Column],
    indexes: list[dict[str, object]],
    report: LineReport,
    tokenizer: dict[str, object],
    options: PreprocessOptions,
) -> dict[str, object]:
    from seqkit import __version__

    sides = [
        {
            "path": str(c.path.resolve()),
            "bytes": c.path.stat().st_size,
            "output": c.subdir or ".",
            "prefix_ids": c.encoder.prefix_ids,
            "suffix_ids": c.encoder.suffix_ids,
            **c.info,
            "num_documents": index["num_documents"],
            "num_tokens": index["num_tokens"],
        }
        for c, index in zip(columns, indexes)
    ]
    return {
        "format": MANIFEST_FORMAT,
        "version": 1,
        "kind": "parallel" if len(columns) > 1 else "monolingual",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "seqkit_version": __version__,
        "tokenizer": tokenizer,
        "dtype": indexes[0]["dtype"],
        "num_documents": indexes[0]["num_documents"],
        "num_tokens": sum(int(str(index["num_tokens"])) for index in indexes),
        "inputs": sides,
        "limits": {"max_tokens": options.max_tokens, "max_bytes": options.max_bytes},
        **report.to_dict(),
    }
