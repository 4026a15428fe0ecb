"""Binarization of monolingual or parallel text into token datasets (``seqkit data preprocess``).

The work runs on the native data pipeline (:mod:`seqkit.text.preprocess_stages`): lines
are read in C++ while the previous bucket is encoded on every core and the one before is
written, so reading and writing hide behind encoding. Bad lines follow the policy of
:mod:`seqkit.text.line_policy`; in a parallel corpus a pair is skipped when either side
is bad, so the two sides stay aligned. The dataset is written by
:class:`seqkit.data.TokenWriter`: it appears complete, with its manifest, or not at all.

With a :class:`Holdout`, input lines chosen at random (seeded) go to a ``valid/`` split and
the others to ``train/``; both splits and the manifest are committed as one unit.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Final, final

import numpy as np
import numpy.typing as npt
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
from seqkit.text.tokenizer import FlatEncoding, TextTokenEncoder

MANIFEST_FORMAT: Final = "seqkit.tokens.manifest"

TRAIN: Final = "train"
"""The training split's directory in an output with a hold-out."""

VALID: Final = "valid"
"""The validation split's directory in an output with a hold-out."""

SPLITS: Final = (TRAIN, VALID)

HOLDOUT_RULE: Final = "np.sort(np.random.default_rng(seed).choice(n, size=count, replace=False))"
"""How the held-out line indices are drawn (recorded in the manifest)."""


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
class Holdout:
    """Lines held out for validation, chosen at random (seeded) among all input lines.

    Give exactly one of ``size`` and ``fraction``. With ``n`` input lines (pairs), as
    :func:`seqkit.data.count_lines` counts them, the held-out count is ``size``, or
    ``max(1, int(n * fraction))``, and the held-out lines are the 0-based input line
    indices ``np.sort(np.random.default_rng(seed).choice(n, size=count, replace=False))``:
    a pure function of ``(n, seed)`` (and the count), whatever the lines hold, the
    tokenizer or the batch size. Bad lines are skipped where they fall, so the ``valid/``
    split holds at most ``count`` documents. Memory: the sorted indices (8 bytes per
    held-out line), plus, while drawing, NumPy's own working array (8 bytes per input line
    when ``count`` exceeds about ``n / 50``).
    """

    size: int | None = None
    """Hold out exactly this many input lines (pairs)."""

    fraction: float | None = None
    """Or this share of the input lines: ``int(n * fraction)``, at least 1."""

    seed: int = 0
    """Seed of the draw (``np.random.default_rng(seed)``)."""

    keep_text: bool = False
    """Also write the held-out kept lines (without their newline) as ``valid/<name>.txt``."""

    def __post_init__(self) -> None:
        if (self.size is None) == (self.fraction is None):
            raise PreprocessError(
                "Holdout: give exactly one of size= (--valid-size) and fraction= "
                f"(--valid-fraction), not {'both' if self.size is not None else 'neither'}."
            )
        if self.size is not None and (
            not isinstance(self.size, int) or isinstance(self.size, bool) or self.size <= 0
        ):
            raise PreprocessError(
                f"Holdout size must be a positive number of lines, got {self.size!r}."
            )
        if self.fraction is not None and (
            isinstance(self.fraction, bool)
            or not isinstance(self.fraction, int | float)
            or not 0.0 < self.fraction < 1.0
        ):
            raise PreprocessError(
                f"Holdout fraction must lie strictly between 0 and 1, got {self.fraction!r}."
            )
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise PreprocessError(f"Holdout seed must be a non-negative int, got {self.seed!r}.")

    def count(self, num_lines: int) -> int:
        """How many of ``num_lines`` input lines are held out; raises
        :class:`PreprocessError` when that leaves no line for training."""
        if self.size is not None:
            count = self.size
            given = f"size={self.size}"
            fix = f"choose a size below {num_lines}"
        else:
            assert self.fraction is not None
            count = max(1, int(num_lines * self.fraction))
            given = f"fraction={self.fraction} ({count} lines)"
            fix = "choose a smaller fraction or give more input"
        if count >= num_lines:
            raise PreprocessError(
                f"Holdout {given} holds out all {num_lines} input lines and leaves no "
                f"training data; {fix}."
            )
        return count

    def indices(self, num_lines: int) -> npt.NDArray[np.int64]:
        """The held-out 0-based input line indices, sorted (see the class docstring)."""
        count = self.count(num_lines)
        rng = np.random.default_rng(self.seed)
        drawn = rng.choice(num_lines, size=count, replace=False)
        return np.sort(np.asarray(drawn, dtype=np.int64))


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
    """Read, kept and skipped lines (all splits together)."""

    splits: dict[str, LineReport] = field(default_factory=dict)
    """With a hold-out, the lines of each split (``"train"``, ``"valid"``); else empty."""


def split_dirs(output: Path) -> tuple[Path, Path | None]:
    """``(train, valid)`` dataset directories of a :func:`preprocess` output.

    ``(output/train, output/valid)`` when it was written with a :class:`Holdout`, else
    ``(output, None)``.
    """
    if (output / TRAIN).is_dir() and (output / VALID).is_dir():
        return output / TRAIN, output / VALID
    return output, None


def preprocess(
    columns: Sequence[Column],
    output: Path,
    *,
    vocab_size: int,
    tokenizer: dict[str, object],
    options: PreprocessOptions | None = None,
    holdout: Holdout | None = None,
) -> PreprocessResult:
    """Binarize ``columns`` (one: monolingual; two: parallel, aligned by line) to ``output``.

    Without ``holdout`` the dataset is ``output`` itself (``source/`` and ``target/`` when
    parallel). With it, the held-out input lines (see :class:`Holdout`) go to
    ``output/valid`` and the others to ``output/train``, each a complete dataset, with
    ``manifest.json`` at ``output`` (counts per split under ``splits``, the draw under
    ``holdout``); bad lines are skipped and counted in whichever split they fall.
    ``keep_text`` adds ``valid/text.txt`` (monolingual) or ``valid/<subdir>.txt`` per
    side, one line per ``valid`` document. Everything is committed as one directory.

    Raises :class:`PreprocessError` for a missing input, misaligned parallel inputs (naming
    both files and their line counts), a corpus without a usable line, a hold-out that
    leaves no training line, or a split left without documents; nothing is left at
    ``output`` then, nor after an interrupt.
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
    if len(columns) == 2 and columns[0].subdir == columns[1].subdir:
        raise PreprocessError("The two columns of a parallel corpus need distinct subdirs.")
    num_lines = _check_aligned(columns) if len(columns) == 2 else 0
    held: npt.NDArray[np.int64] | None = None
    if holdout is not None:
        if len(columns) == 1:
            num_lines = count_lines(columns[0].path)
        if num_lines == 0:
            raise PreprocessError(
                f"{columns[0].path} is empty; there is nothing to hold out.", path=columns[0].path
            )
        held = holdout.indices(num_lines)
    if options.num_threads is not None:
        threads = options.num_threads
        columns = [replace(c, encoder=c.encoder.with_num_threads(threads)) for c in columns]
    dtype = token_dtype(vocab_size)
    report = LineReport()
    subdirs = [c.subdir for c in columns]
    splits: dict[str, LineReport] = {}
    with TokenWriter(
        output,
        dtype=dtype,
        columns=None if held is not None or subdirs == [None] else [str(s) for s in subdirs],
        groups=None if held is None else [[_name(sp, c) for c in columns] for sp in SPLITS],
        overwrite=options.overwrite,
    ) as writer:
        router = None
        if holdout is not None and held is not None:
            splits = {split: LineReport() for split in SPLITS}
            router = _Router(columns, writer, held, splits, keep_text=holdout.keep_text)
        _run(columns, writer, report, options, router=router)
        if report.lines_kept == 0:
            raise PreprocessError(
                f"No usable line in {', '.join(str(c.path) for c in columns)} "
                f"({report.summary()}); nothing was written.",
                path=columns[0].path,
            )
        if holdout is None or held is None:
            counts = [writer.info(c.subdir) for c in columns]
            manifest = _manifest(columns, counts, dtype, report, tokenizer, options)
        else:
            _check_splits(columns, report, splits, num_lines, len(held))
            totals = [_total(writer, c) for c in columns]
            manifest = _manifest(columns, totals, dtype, report, tokenizer, options)
            manifest["splits"] = {
                split: _split_manifest(writer, columns, split, splits[split]) for split in SPLITS
            }
            manifest["holdout"] = {
                "size": holdout.size,
                "fraction": holdout.fraction,
                "seed": holdout.seed,
                "count": len(held),
                "input_lines": num_lines,
                "rule": HOLDOUT_RULE,
                "keep_text": holdout.keep_text,
                "text_files": [_text_name(c) for c in columns] if holdout.keep_text else [],
            }
        writer.add_json("manifest.json", manifest)
    return PreprocessResult(output=output, manifest=manifest, report=report, splits=splits)


def _name(split: str, column: Column) -> str:
    """The writer column of ``column`` in ``split``: ``train/source``, or ``train``."""
    return split if column.subdir is None else f"{split}/{column.subdir}"


def _text_name(column: Column) -> str:
    """Where ``keep_text`` writes the held-out lines of ``column``."""
    return f"{VALID}/{column.subdir or 'text'}.txt"


def _total(writer: TokenWriter, column: Column) -> TokenDatasetInfo:
    train, valid = (writer.info(_name(split, column)) for split in SPLITS)
    return TokenDatasetInfo(
        dtype=writer.dtype,
        num_documents=train.num_documents + valid.num_documents,
        num_tokens=train.num_tokens + valid.num_tokens,
    )


def _split_manifest(
    writer: TokenWriter, columns: Sequence[Column], split: str, report: LineReport
) -> dict[str, object]:
    infos = [writer.info(_name(split, c)) for c in columns]
    return {
        "path": split,
        "num_documents": infos[0].num_documents,
        "num_tokens": sum(info.num_tokens for info in infos),
        "outputs": [
            {
                "output": _name(split, c),
                "num_documents": info.num_documents,
                "num_tokens": info.num_tokens,
            }
            for c, info in zip(columns, infos, strict=True)
        ],
        **report.to_dict(),
    }


def _check_splits(
    columns: Sequence[Column],
    report: LineReport,
    splits: dict[str, LineReport],
    num_lines: int,
    held: int,
) -> None:
    inputs = ", ".join(str(c.path) for c in columns)
    if report.lines_read != num_lines:
        raise PreprocessError(
            f"{inputs} had {num_lines} lines when counted but {report.lines_read} when read; "
            "do not modify the inputs during preprocessing.",
            path=columns[0].path,
        )
    for split, what, fix in (
        (
            VALID,
            f"all {held} held-out",
            "hold out more lines (--valid-size/--valid-fraction), draw others (--seed)",
        ),
        (TRAIN, f"all {num_lines - held} training", "hold out fewer lines"),
    ):
        if splits[split].lines_kept == 0:
            raise PreprocessError(
                f"The {split} split would be empty: {what} lines of {inputs} were skipped "
                f"({splits[split].summary()}). Clean the input or {fix}; nothing was written.",
                path=columns[0].path,
            )


def _check_aligned(columns: Sequence[Column]) -> int:
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
    return counts[0]


@final
class _Router:
    """Sends each kept document (pair) of a batch to ``train`` or ``valid`` by its input
    line index, counts lines per split, and writes the held-out text when asked."""

    def __init__(
        self,
        columns: Sequence[Column],
        writer: TokenWriter,
        held: npt.NDArray[np.int64],
        splits: dict[str, LineReport],
        *,
        keep_text: bool,
    ) -> None:
        self._columns = columns
        self._writer = writer
        self._held = held
        self._splits = splits
        self.keep_text = keep_text
        self._texts: list[BinaryIO] = (
            [writer.open_file(_text_name(c)) for c in columns] if keep_text else []
        )

    def route(self, batch: EncodedBatch, line_no: int) -> None:
        """Write ``batch``, whose first line is input line ``line_no`` (0-based)."""
        n = batch.num_lines
        lo, hi = np.searchsorted(self._held, [line_no, line_no + n])
        is_held = np.zeros(n, dtype=bool)
        is_held[self._held[lo:hi] - line_no] = True
        kept = np.ones(n, dtype=bool)
        for i, side, reason in batch.skipped:
            kept[i] = False
            split = VALID if is_held[i] else TRAIN
            self._splits[split].skip(reason, f"{self._columns[side].path}:{line_no + i + 1}")
        to_valid = is_held[kept]
        num_valid = int(to_valid.sum())
        num_held = int(hi - lo)
        for split, read, kept_docs in (
            (TRAIN, n - num_held, len(to_valid) - num_valid),
            (VALID, num_held, num_valid),
        ):
            self._splits[split].lines_read += read
            self._splits[split].lines_kept += kept_docs
        for column, flat in zip(self._columns, batch.sides, strict=True):
            if num_valid == 0:
                self._writer.write(flat.tokens, flat.lengths, column=_name(TRAIN, column))
                continue
            for split, mask in ((TRAIN, ~to_valid), (VALID, to_valid)):
                part = _select(flat, mask)
                self._writer.write(part.tokens, part.lengths, column=_name(split, column))
        if self.keep_text and num_valid:
            assert batch.texts is not None
            rows = np.flatnonzero(to_valid).tolist()
            for file, texts in zip(self._texts, batch.texts, strict=True):
                file.write("".join(texts[k] + "\n" for k in rows).encode("utf-8"))


def _select(flat: FlatEncoding, mask: npt.NDArray[np.bool_]) -> FlatEncoding:
    """The documents of ``flat`` where ``mask`` is true."""
    if mask.all():
        return flat
    return FlatEncoding(
        tokens=flat.tokens[np.repeat(mask, flat.lengths)], lengths=flat.lengths[mask]
    )


def _run(
    columns: Sequence[Column],
    writer: TokenWriter,
    report: LineReport,
    options: PreprocessOptions,
    *,
    router: _Router | None = None,
) -> None:
    check = CheckStage(max_bytes=options.max_bytes)
    encode = EncodeStage(
        [c.encoder for c in columns],
        dtype=writer.dtype,
        max_tokens=options.max_tokens,
        keep_text=router is not None and router.keep_text,
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
                if router is not None:
                    router.route(batch, line_no)
                else:
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
    from seqkit._version import __version__

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
