"""Binarization of monolingual or parallel text into token datasets (``seqkit data preprocess``).

The work runs on the native data pipeline (:mod:`seqkit.text.preprocess_stages`): lines
are read in C++ while the previous bucket is encoded on every core and the one before is
written, so reading and writing hide behind encoding. Bad lines follow the policy of
:mod:`seqkit.text.line_policy`; in a parallel corpus a pair is skipped when either side
is bad, so the two sides stay aligned. The dataset is written by
:class:`seqkit.data.TokenWriter`: it appears complete, with its manifest, or not at all.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final, final

from tqdm import tqdm

from seqkit.data import (
    DataPipeline,
    DataPipelineError,
    TokenDatasetInfo,
    TokenDType,
    TokenWriter,
    count_lines,
    token_dtype,
)
from seqkit.errors import SeqkitError
from seqkit.text.errors import PreprocessError
from seqkit.text.line_policy import LineReport
from seqkit.text.preprocess_stages import (
    CheckStage,
    EncodedBatch,
    EncodeStage,
    build_pipeline,
)
from seqkit.text.tokenizer import TextTokenEncoder

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

    num_threads: int | None = None
    """Encoding threads (default: each encoder's own, every core for SentencePiece)."""

    overwrite: bool = False
    """Replace an existing output directory (only once the new one is complete)."""

    progress: bool = True
    """Show a tqdm progress bar over the input bytes."""

    def __post_init__(self) -> None:
        if self.max_tokens is not None and self.max_tokens <= 0:
            raise PreprocessError(f"max_tokens must be positive, got {self.max_tokens}.")
        if self.max_bytes is not None and self.max_bytes <= 0:
            raise PreprocessError(f"max_bytes must be positive, got {self.max_bytes}.")
        if self.chunk_lines <= 0:
            raise PreprocessError(f"chunk_lines must be positive, got {self.chunk_lines}.")
        if self.num_threads is not None and self.num_threads <= 0:
            raise PreprocessError(f"num_threads must be positive, got {self.num_threads}.")


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


def preprocess(
    columns: Sequence[Column],
    output: Path,
    *,
    vocab_size: int,
    tokenizer: dict[str, object],
    options: PreprocessOptions | None = None,
) -> PreprocessResult:
    """Binarize ``columns`` (one: monolingual; two: parallel, aligned by line) to ``output``.

    Raises :class:`PreprocessError` for a missing input, misaligned parallel inputs (naming
    both files and their line counts) or a corpus without a usable line; nothing is left
    at ``output`` then, nor after an interrupt.
    """
    options = options or PreprocessOptions()
    if output.exists() and not options.overwrite:
        raise PreprocessError(
            f"{output} already exists; remove it or pass --overwrite.", path=output
        )
    if len(columns) not in (1, 2):
        raise PreprocessError(
            f"Give one column (monolingual) or two (parallel), not {len(columns)}."
        )
    for column in columns:
        if not column.path.is_file():
            raise PreprocessError(f"Input {column.path} does not exist.", path=column.path)
    if len(columns) == 2:
        _check_aligned(columns)
    if options.num_threads is not None:
        threads = options.num_threads
        columns = [replace(c, encoder=c.encoder.with_num_threads(threads)) for c in columns]
    dtype = token_dtype(vocab_size)
    report = LineReport()
    subdirs = [c.subdir for c in columns]
    with TokenWriter(
        output,
        dtype=dtype,
        columns=None if subdirs == [None] else [str(s) for s in subdirs],
        overwrite=options.overwrite,
    ) as writer:
        _run(columns, writer, report, options)
        if report.lines_kept == 0:
            raise PreprocessError(
                f"No usable line in {', '.join(str(c.path) for c in columns)} "
                f"({report.summary()}); nothing was written.",
                path=columns[0].path,
            )
        counts = [writer.info(c.subdir) for c in columns]
        manifest = _manifest(columns, counts, dtype, report, tokenizer, options)
        writer.add_json("manifest.json", manifest)
    return PreprocessResult(output=output, manifest=manifest, report=report)


def _check_aligned(columns: Sequence[Column]) -> None:
    counts = [count_lines(c.path) for c in columns]
    if counts[0] != counts[1]:
        short, long = (0, 1) if counts[0] < counts[1] else (1, 0)
        raise PreprocessError(
            f"The parallel inputs are not aligned: {columns[0].path} has {counts[0]} lines "
            f"but {columns[1].path} has {counts[1]}; line {counts[short] + 1} of "
            f"{columns[long].path} has no partner in {columns[short].path}. Align them so "
            "that line i of each file is a translation pair.",
            path=columns[short].path,
        )


def _run(
    columns: Sequence[Column], writer: TokenWriter, report: LineReport, options: PreprocessOptions
) -> None:
    check = CheckStage(max_bytes=options.max_bytes)
    encode = EncodeStage(
        [c.encoder for c in columns], dtype=writer.dtype, max_tokens=options.max_tokens
    )
    pipeline = build_pipeline(
        [c.path for c in columns], check, encode, batch_lines=options.chunk_lines
    )
    total = sum(c.path.stat().st_size for c in columns)
    line_no = 0
    try:
        with tqdm(
            total=total, unit="B", unit_scale=True, disable=not options.progress, desc="encode"
        ) as bar:
            for batch in _batches(pipeline, columns):
                for i, side, reason in batch.skipped:
                    report.skip(reason, f"{columns[side].path}:{line_no + i + 1}")
                for column, flat in zip(columns, batch.sides, strict=True):
                    writer.write(flat.tokens, flat.lengths, column=column.subdir)
                line_no += batch.num_lines
                report.lines_read += batch.num_lines
                report.lines_kept += batch.num_lines - len(batch.skipped)
                bar.update(min(batch.num_bytes, total - bar.n))
            # Exact at the end: "\r\n" endings are not in the per-batch counts.
            bar.update(total - bar.n)
    finally:
        pipeline.close()


def _batches(pipeline: DataPipeline, columns: Sequence[Column]) -> Iterator[EncodedBatch]:
    """The pipeline's batches, its errors turned into :class:`PreprocessError`."""
    try:
        yield from pipeline
    except DataPipelineError as ex:
        cause = ex.__cause__
        # Our own errors and Ctrl-C come out as they are; anything else is named and chained.
        if isinstance(cause, SeqkitError) or (
            cause is not None and not isinstance(cause, Exception)
        ):
            raise cause from None
        inputs = ", ".join(str(c.path) for c in columns)
        raise PreprocessError(f"Preprocessing {inputs} failed: {ex}", path=columns[0].path) from ex


def _manifest(
    columns: Sequence[Column],
    counts: list[TokenDatasetInfo],
    dtype: TokenDType,
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
            "num_documents": info.num_documents,
            "num_tokens": info.num_tokens,
        }
        for c, info in zip(columns, counts, strict=True)
    ]
    return {
        "format": MANIFEST_FORMAT,
        "version": 1,
        "kind": "parallel" if len(columns) > 1 else "monolingual",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "seqkit_version": __version__,
        "tokenizer": tokenizer,
        "dtype": dtype,
        "num_documents": counts[0].num_documents,
        "num_tokens": sum(info.num_tokens for info in counts),
        "inputs": sides,
        "limits": {"max_tokens": options.max_tokens, "max_bytes": options.max_bytes},
        "encoding": {
            "num_threads": [c.encoder.num_threads for c in columns],
            "batch_lines": options.chunk_lines,
        },
        **report.to_dict(),
    }
