"""The data of ``seqkit lm finetune``: JSONL examples tokenized once into a token dataset.

Each example becomes two aligned columns: ``tokens`` (``BOS`` + every segment, an ``EOS``
after each response) and ``target_mask`` (1 where a token is one the model must produce).
Chats (``messages``) are written with the tokenizer's chat template when it has one (and
``data.use_chat_template`` is on), the loss on the assistant turns only; see
:mod:`seqkit.recipes.lm.instructions`.
Rank 0 writes them under ``OUTPUT_DIR/data``, holding out a seeded share for validation;
training reads them through :func:`seqkit.data.masked_reader` like any token dataset.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from seqkit.data import (
    MaskedBatch,
    PlannedBatchReader,
    ReaderOptions,
    TokenDataset,
    TokenWriter,
    masked_reader,
    token_dtype,
)
from seqkit.recipes.data_prep import DataPreparation, PreparedData, held_out_examples
from seqkit.recipes.errors import RecipeDataError, RecipeError
from seqkit.recipes.lm.config import FinetuneDataSection
from seqkit.recipes.lm.instructions import (
    Chat,
    MaskedExample,
    OffsetEncoder,
    read_instruction_examples,
    tokenize_chat,
    tokenize_example,
)
from seqkit.recipes.readers import batch_sizes, create_readers
from seqkit.recipes.run_context import RunContext
from seqkit.recipes.sections import TrainSection
from seqkit.text.errors import ChatTemplateError

COLUMNS = ("tokens", "target_mask")


def prepare_finetune_data(
    prep: DataPreparation, data: FinetuneDataSection, *, seed: int
) -> PreparedData:
    """Tokenize the JSONL examples (rank 0, once) and open the datasets."""
    vocab = prep.tokenizer.vocab_info
    if vocab.bos_idx is None or vocab.eos_idx is None:
        raise RecipeError("Fine-tuning needs a tokenizer with BOS and EOS tokens.")
    bos_idx, eos_idx = vocab.bos_idx, vocab.eos_idx
    tokenizer = prep.tokenizer
    encoder = tokenizer.create_encoder(mode="default")
    chat_encoder = _chat_encoder(prep, data)

    def examples(paths: list[Path], counts: dict[str, int]) -> Iterator[MaskedExample]:
        for path in paths:
            keep_chats = chat_encoder is not None
            for item in read_instruction_examples(
                path, data.prompt_template, keep_chats=keep_chats
            ):
                if isinstance(item, Chat):
                    assert chat_encoder is not None
                    try:
                        found = tokenize_chat(
                            tokenizer, chat_encoder, item.messages, max_len=data.max_seq_len
                        )
                    except ChatTemplateError as ex:
                        raise RecipeDataError(f"{item.where}: {ex}") from ex
                    if found is None:
                        raise RecipeDataError(
                            f"{item.where}: the tokenizer's chat template does not render the "
                            "turns before an assistant reply as a prefix of the whole chat, so "
                            "the reply cannot be located; set data.use_chat_template=false."
                        )
                    example, cut = found
                else:
                    example, cut = tokenize_example(
                        item,
                        encoder.encode_ids,
                        bos_idx=bos_idx,
                        eos_idx=eos_idx,
                        max_len=data.max_seq_len,
                    )
                counts["truncated"] += cut
                if any(example.loss_mask):
                    yield example
                else:
                    counts["no_target"] += 1

    def write(p: DataPreparation, name: str, items: Iterator[MaskedExample], keep: object) -> Path:
        out = p.root / name
        dtype = token_dtype(vocab.size)
        with TokenWriter(out, dtype=dtype, columns=COLUMNS) as writer:
            for i, ex in enumerate(items):
                if callable(keep) and not keep(i):
                    continue
                ids = np.asarray(ex.ids, dtype=np.int64)
                mask = np.asarray([0, *ex.loss_mask], dtype=np.int64)
                length = np.array([len(ids)], dtype=np.int64)
                writer.write(ids, length, column="tokens")
                writer.write(mask, length, column="target_mask")
        return out

    def build(p: DataPreparation) -> None:
        counts = {"truncated": 0, "no_target": 0}
        held: set[int] = set()
        if not data.valid_files and data.valid_fraction > 0:
            total = sum(1 for _ in examples(data.train_files, {"truncated": 0, "no_target": 0}))
            held = held_out_examples(total, data.valid_fraction, seed)
        p.train.append(
            p.relative(
                write(p, "train", examples(data.train_files, counts), lambda i: i not in held)
            )
        )
        if data.valid_files:
            p.valid.append(p.relative(write(p, "valid", examples(data.valid_files, counts), None)))
        elif held:
            items = examples(data.train_files, {"truncated": 0, "no_target": 0})
            p.valid.append(p.relative(write(p, "valid", items, lambda i: i in held)))
        if counts["truncated"]:
            p.notes.append(
                f"Truncated {counts['truncated']} example(s) longer than "
                f"data.max_seq_len={data.max_seq_len} tokens."
            )
        if counts["no_target"]:
            p.notes.append(
                f"Skipped {counts['no_target']} example(s) whose response was cut off entirely "
                f"by data.max_seq_len={data.max_seq_len}."
            )

    return prep.run(build)


def _chat_encoder(prep: DataPreparation, data: FinetuneDataSection) -> OffsetEncoder | None:
    """The encoder chats are tokenized with, or ``None`` to write them without a template."""
    if not data.use_chat_template or prep.tokenizer.chat_template is None:
        return None
    encoder = prep.tokenizer.create_encoder(add_bos=False, add_eos=False)
    if not hasattr(encoder, "encode_with_offsets"):
        return None
    return encoder


def finetune_readers(
    ctx: RunContext, prepared: PreparedData, train: TrainSection, pad_idx: int
) -> tuple[PlannedBatchReader[MaskedBatch], PlannedBatchReader[MaskedBatch] | None]:
    """This rank's training reader and validation reader (``None`` without validation)."""
    batch_size, budget = batch_sizes(train)

    def make(
        datasets: Sequence[TokenDataset], options: ReaderOptions
    ) -> PlannedBatchReader[MaskedBatch]:
        return masked_reader(
            datasets, pad_idx=pad_idx, batch_size=batch_size, max_num_tokens=budget, options=options
        )

    return create_readers(ctx, prepared, make, train, what="examples")
