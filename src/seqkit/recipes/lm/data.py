"""The data of ``seqkit lm train``: text tokenized once, packed rows read by seqkit.data."""

from __future__ import annotations

from collections.abc import Sequence

from seqkit.data import (
    PackedBatch,
    PlannedBatchReader,
    ReaderOptions,
    TokenDataset,
    lm_reader,
)
from seqkit.recipes.data_prep import (
    DataPreparation,
    PreparedData,
    check_input,
    is_token_dataset,
)
from seqkit.recipes.errors import RecipeDataError
from seqkit.recipes.lm.config import LmDataSection
from seqkit.recipes.readers import create_readers
from seqkit.recipes.run_context import RunContext
from seqkit.recipes.sections import DatasetEntry, TrainSection, mixture_weights
from seqkit.text import Column, Holdout


def lm_entries(data: LmDataSection) -> list[DatasetEntry]:
    """The training datasets of the config (``train_files`` or ``train_datasets``)."""
    entries = data.train_datasets or [DatasetEntry(path=p) for p in data.train_files]
    if not entries:
        raise RecipeDataError(
            "No training data: set data.train_files, e.g. --config 'data.train_files=[corpus.txt]'."
        )
    key = "data.train_datasets" if data.train_datasets else "data.train_files"
    for entry in entries:
        assert entry.path is not None
        check_input(entry.path, key)
    for path in data.valid_files:
        check_input(path, "data.valid_files")
    return entries


def prepare_lm_data(prep: DataPreparation, data: LmDataSection, *, seed: int) -> PreparedData:
    """Tokenize the text inputs (rank 0, once) and open every dataset."""

    def build(p: DataPreparation) -> None:
        encoder = p.tokenizer.create_encoder(mode="default")
        holdout = (
            Holdout(fraction=data.valid_fraction, seed=seed)
            if not data.valid_files and data.valid_fraction > 0
            else None
        )
        for i, entry in enumerate(lm_entries(data)):
            assert entry.path is not None
            if is_token_dataset(entry.path):
                p.train.append(str(entry.path.resolve()))
                continue
            text = p.limited_copy(entry.path, data.max_documents, f"train_{i}.txt")
            train, valid = p.binarize(
                [Column(path=text, encoder=encoder)], f"train_{i}", holdout=holdout
            )
            p.train.append(p.relative(train))
            if valid is not None:
                p.valid.append(p.relative(valid))
        for j, path in enumerate(data.valid_files):
            if is_token_dataset(path):
                p.valid.append(str(path.resolve()))
            else:
                valid, _ = p.binarize(
                    [Column(path=path, encoder=encoder)], f"valid_{j}", holdout=None
                )
                p.valid.append(p.relative(valid))

    return prep.run(build)


def lm_batch_rows(data: LmDataSection, train: TrainSection) -> int:
    """Rows per batch: ``train.batch_size``, or as many rows as ``train.max_num_tokens`` holds."""
    if train.max_num_tokens is None:
        return train.batch_size
    rows = train.max_num_tokens // data.max_seq_len
    if rows < 1:
        raise RecipeDataError(
            f"train.max_num_tokens={train.max_num_tokens} is less than one row of "
            f"data.max_seq_len={data.max_seq_len} tokens; raise it."
        )
    return rows


def lm_readers(
    ctx: RunContext, prepared: PreparedData, data: LmDataSection, train: TrainSection
) -> tuple[PlannedBatchReader[PackedBatch], PlannedBatchReader[PackedBatch] | None]:
    """This rank's training reader and validation reader (``None`` without validation)."""
    rows = lm_batch_rows(data, train)

    def make(
        datasets: Sequence[TokenDataset], options: ReaderOptions
    ) -> PlannedBatchReader[PackedBatch]:
        return lm_reader(datasets, seq_len=data.max_seq_len, batch_size=rows, options=options)

    tokens = sum(len(ds.column("").tokens) for ds in prepared.train)
    too_small = (
        f"The {tokens:,} training tokens make rows of data.max_seq_len={data.max_seq_len} "
        f"tokens, {rows} rows per batch on each of {ctx.gangs.dp.size} rank(s): lower "
        "data.max_seq_len or train.batch_size, or add data."
    )
    weights = mixture_weights(data.train_datasets)
    return create_readers(
        ctx, prepared, make, train, what="text rows", weights=weights, too_small=too_small
    )
