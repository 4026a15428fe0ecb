"""The data of ``seqkit mt train``: parallel text tokenized once, pairs read by seqkit.data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from seqkit.data import (
    PairBatch,
    PlannedBatchReader,
    ReaderOptions,
    TokenDataset,
    pair_reader,
)
from seqkit.recipes.data_prep import (
    DataPreparation,
    PreparedData,
    check_input,
    is_token_dataset,
)
from seqkit.recipes.errors import RecipeDataError
from seqkit.recipes.mt.config import MtDataSection
from seqkit.recipes.readers import batch_sizes, create_readers
from seqkit.recipes.run_context import RunContext
from seqkit.recipes.sections import DatasetEntry, TrainSection, mixture_weights
from seqkit.text import Column, Holdout, TextTokenEncoder


def mt_entries(data: MtDataSection) -> list[DatasetEntry]:
    """The training corpora of the config."""
    entries = list(data.train_datasets)
    if data.source_file is not None and data.target_file is not None:
        entries.append(DatasetEntry(source=data.source_file, target=data.target_file))
    entries += [DatasetEntry(path=p) for p in data.tsv_files]
    if not entries:
        raise RecipeDataError(
            "No training pairs: set data.source_file and data.target_file (aligned by line), "
            "data.tsv_files (source<TAB>target lines) or data.train_datasets."
        )
    for entry in entries:
        for path in (entry.path, entry.source, entry.target):
            if path is not None:
                check_input(path, "the training data")
    for path in (data.valid_source_file, data.valid_target_file):
        if path is not None:
            check_input(path, "data.valid_source_file/valid_target_file")
    return entries


def text_corpora(data: MtDataSection) -> list[Path]:
    """The text files a joint tokenizer can be trained on."""
    files: list[Path] = []
    for entry in mt_entries(data):
        if entry.source is not None and entry.target is not None:
            files += [entry.source, entry.target]
        elif entry.path is not None and entry.path.is_file():
            files.append(entry.path)
    return files


def prepare_mt_data(prep: DataPreparation, data: MtDataSection, *, seed: int) -> PreparedData:
    """Tokenize the parallel text (rank 0, once) and open every dataset."""
    have_valid_files = data.valid_source_file is not None and data.valid_target_file is not None

    def build(p: DataPreparation) -> None:
        src_enc, tgt_enc = _encoders(p, data)
        for i, entry in enumerate(mt_entries(data)):
            if entry.path is not None and is_token_dataset(entry.path):
                p.train.append(str(entry.path.resolve()))
                continue
            if entry.path is not None:
                source, target = _split_tsv(p, entry.path, data.max_pairs, i)
            else:
                assert entry.source is not None
                assert entry.target is not None
                source = p.limited_copy(entry.source, data.max_pairs, f"train_{i}.source")
                target = p.limited_copy(entry.target, data.max_pairs, f"train_{i}.target")
            holdout = None
            if i == 0 and not have_valid_files and data.valid_size > 0:
                holdout = Holdout(size=data.valid_size, seed=seed, keep_text=True)
            train, valid = p.binarize(
                _columns(source, target, src_enc, tgt_enc, data),
                f"train_{i}",
                holdout=holdout,
                max_tokens=data.max_seq_len + 1,
            )
            p.train.append(p.relative(train))
            if valid is not None:
                p.valid.append(p.relative(valid))
                p.valid_text = [p.relative(valid / "source.txt"), p.relative(valid / "target.txt")]
        if have_valid_files:
            assert data.valid_source_file is not None
            assert data.valid_target_file is not None
            valid, _ = p.binarize(
                _columns(data.valid_source_file, data.valid_target_file, src_enc, tgt_enc, data),
                "valid_0",
                holdout=None,
                max_tokens=data.max_seq_len + 1,
            )
            p.valid.append(p.relative(valid))
            p.valid_text = [
                str(data.valid_source_file.resolve()),
                str(data.valid_target_file.resolve()),
            ]

    return prep.run(build)


def _encoders(p: DataPreparation, data: MtDataSection) -> tuple[TextTokenEncoder, TextTokenEncoder]:
    tok = p.tokenizer
    return (
        tok.create_encoder(task="translation", lang=data.source_lang, mode="source"),
        tok.create_encoder(task="translation", lang=data.target_lang, mode="target"),
    )


def _columns(
    source: Path, target: Path, src: TextTokenEncoder, tgt: TextTokenEncoder, data: MtDataSection
) -> list[Column]:
    return [
        Column(path=source, encoder=src, subdir="source", info={"lang": data.source_lang}),
        Column(path=target, encoder=tgt, subdir="target", info={"lang": data.target_lang}),
    ]


def _split_tsv(p: DataPreparation, path: Path, limit: int | None, index: int) -> tuple[Path, Path]:
    """Stream ``source<TAB>target`` lines into two aligned files; blank lines are dropped."""
    if not path.is_file():
        raise RecipeDataError(f"Data file {path} does not exist (or is not a file).")
    out = p.root / "text"
    out.mkdir(parents=True, exist_ok=True)
    source, target = out / f"train_{index}.source", out / f"train_{index}.target"
    kept = 0
    with path.open("rb") as f, source.open("wb") as src, target.open("wb") as tgt:
        for line_nr, raw in enumerate(f, start=1):
            if limit is not None and kept >= limit:
                break
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            parts = line.split(b"\t")
            if len(parts) != 2:
                raise RecipeDataError(
                    f"{path}:{line_nr}: {len(parts)} tab-separated fields; expected "
                    "source<TAB>target."
                )
            src.write(parts[0].strip() + b"\n")
            tgt.write(parts[1].strip() + b"\n")
            kept += 1
    return source, target


def mt_readers(
    ctx: RunContext, prepared: PreparedData, data: MtDataSection, train: TrainSection, pad_idx: int
) -> tuple[PlannedBatchReader[PairBatch], PlannedBatchReader[PairBatch] | None]:
    """This rank's training reader and validation reader (``None`` without validation)."""
    batch_size, budget = batch_sizes(train)

    def make(
        datasets: Sequence[TokenDataset], options: ReaderOptions
    ) -> PlannedBatchReader[PairBatch]:
        return pair_reader(
            datasets, pad_idx=pad_idx, batch_size=batch_size, max_num_tokens=budget, options=options
        )

    weights = mixture_weights(data.train_datasets)
    reader, valid = create_readers(ctx, prepared, make, train, what="pairs", weights=weights)
    plan = reader.plan()
    if plan.num_skipped:
        ctx.say(
            f"Skipped {plan.num_skipped} training pair(s) that alone exceed "
            f"train.max_num_tokens={budget} padded tokens."
        )
    if plan.padding_efficiency is not None:
        ctx.say(f"Padding efficiency of the training batches: {plan.padding_efficiency:.3f}.")
    return reader, valid
