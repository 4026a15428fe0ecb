"""The data of ``seqkit lm preference-finetune``: JSONL preference pairs as token datasets.

Each line is ``{"prompt": str, "chosen": str, "rejected": str}``. The prompt is written
with ``data.prompt_template``; each response becomes a sequence ``BOS prompt response EOS``
with a mask that is 1 on the response tokens and its EOS (the tokens whose log-probability
the preference losses compare), exactly as ``lm finetune`` tokenizes an example. A pair is
four aligned columns of one token dataset: ``chosen``/``chosen_mask`` and
``rejected``/``rejected_mask``. Rank 0 writes them once under ``OUTPUT_DIR/data``; the
reader (:func:`preference_reader`) pads each side per batch in the native gather.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, final

import numpy as np
import numpy.typing as npt
from torch import Tensor
from typing_extensions import override

from seqkit import _native
from seqkit.data import (
    BatchPlan,
    MaskedBatch,
    PlannedBatchReader,
    ReaderOptions,
    TokenDataset,
    TokenWriter,
    plan_documents,
    token_dtype,
)
from seqkit.data.batches import BatchGather
from seqkit.recipes.data_prep import DataPreparation, PreparedData, held_out_examples
from seqkit.recipes.errors import RecipeDataError, RecipeError
from seqkit.recipes.lm.config import PreferenceDataSection
from seqkit.recipes.lm.instructions import MaskedExample, Segment, format_prompt, tokenize_example
from seqkit.recipes.lm.jsonl import iter_jsonl
from seqkit.recipes.readers import batch_sizes, create_readers
from seqkit.recipes.run_context import RunContext
from seqkit.recipes.sections import TrainSection

COLUMNS = ("chosen", "chosen_mask", "rejected", "rejected_mask")


@dataclass(frozen=True, kw_only=True)
class PreferencePair:
    """One JSONL record: a prompt and two responses, the first preferred."""

    prompt: str
    chosen: str
    rejected: str


@final
@dataclass(frozen=True, kw_only=True)
class PreferenceBatch:
    """Preference pairs: row ``i`` of ``chosen`` and of ``rejected`` answer the same prompt."""

    chosen: MaskedBatch
    """The preferred responses (with their prompts), loss mask on the response tokens."""

    rejected: MaskedBatch
    """The dispreferred responses, aligned with ``chosen``."""

    @property
    def num_pairs(self) -> int:
        """Number of pairs (rows)."""
        return int(self.chosen.seqs.shape[0])


def read_preference_file(path: Path) -> Iterator[PreferencePair]:
    """The pairs of JSONL ``path``, streamed; errors name file and line."""
    for record, where in iter_jsonl(path, what="Preference file", items="pairs"):
        fields = [record.get(k) if isinstance(record, dict) else None for k in
                  ("prompt", "chosen", "rejected")]  # fmt: skip
        if not all(isinstance(v, str) for v in fields) or not fields[1] or not fields[2]:
            raise RecipeDataError(
                f'{where}: a pair must be {{"prompt": str, "chosen": str, '
                f'"rejected": str}} with non-empty responses.'
            )
        yield PreferencePair(prompt=str(fields[0]), chosen=str(fields[1]), rejected=str(fields[2]))


def prepare_preference_data(
    prep: DataPreparation, data: PreferenceDataSection, *, seed: int
) -> PreparedData:
    """Tokenize the JSONL pairs (rank 0, once) and open the datasets."""
    vocab = prep.tokenizer.vocab_info
    if vocab.bos_idx is None or vocab.eos_idx is None:
        raise RecipeError("Preference fine-tuning needs a tokenizer with BOS and EOS tokens.")
    bos_idx, eos_idx = vocab.bos_idx, vocab.eos_idx
    encoder = prep.tokenizer.create_encoder(mode="default")

    def tokenize(prompt: str, response: str) -> tuple[MaskedExample, bool]:
        segments = [
            Segment(text=format_prompt(data.prompt_template, prompt), is_target=False),
            Segment(text=response, is_target=True),
        ]
        return tokenize_example(
            segments, encoder.encode_ids, bos_idx=bos_idx, eos_idx=eos_idx, max_len=data.max_seq_len
        )

    Tokenized = tuple[MaskedExample, MaskedExample]

    def pairs(paths: list[Path], counts: dict[str, int]) -> Iterator[Tokenized]:
        for path in paths:
            for pair in read_preference_file(path):
                chosen, cut_c = tokenize(pair.prompt, pair.chosen)
                rejected, cut_r = tokenize(pair.prompt, pair.rejected)
                counts["truncated"] += int(cut_c or cut_r)
                if any(chosen.loss_mask) and any(rejected.loss_mask):
                    yield chosen, rejected
                else:
                    counts["no_target"] += 1

    def write(name: str, items: Iterator[Tokenized], keep: object) -> Path:
        out = prep.root / name
        with TokenWriter(out, dtype=token_dtype(vocab.size), columns=COLUMNS) as writer:
            for i, (chosen, rejected) in enumerate(items):
                if callable(keep) and not keep(i):
                    continue
                for column, ex in (("chosen", chosen), ("rejected", rejected)):
                    ids = np.asarray(ex.ids, dtype=np.int64)
                    mask = np.asarray([0, *ex.loss_mask], dtype=np.int64)
                    length = np.array([len(ids)], dtype=np.int64)
                    writer.write(ids, length, column=column)
                    writer.write(mask, length, column=f"{column}_mask")
        return out

    def fresh() -> dict[str, int]:
        return {"truncated": 0, "no_target": 0}

    def build(p: DataPreparation) -> None:
        counts = fresh()
        held: set[int] = set()
        if not data.valid_files and data.valid_fraction > 0:
            total = sum(1 for _ in pairs(data.train_files, fresh()))
            held = held_out_examples(total, data.valid_fraction, seed)
        train = write("train", pairs(data.train_files, counts), lambda i: i not in held)
        p.train.append(p.relative(train))
        if data.valid_files:
            p.valid.append(p.relative(write("valid", pairs(data.valid_files, counts), None)))
        elif held:
            valid = write("valid", pairs(data.train_files, fresh()), lambda i: i in held)
            p.valid.append(p.relative(valid))
        if counts["truncated"]:
            p.notes.append(
                f"Truncated {counts['truncated']} pair(s) with a side longer than "
                f"data.max_seq_len={data.max_seq_len} tokens."
            )
        if counts["no_target"]:
            p.notes.append(
                f"Skipped {counts['no_target']} pair(s) with a response cut off entirely by "
                f"data.max_seq_len={data.max_seq_len}."
            )

    return prep.run(build)


def _column(ds: TokenDataset, name: str) -> tuple[npt.NDArray[Any], npt.NDArray[np.uint64]]:
    column = ds.column(name)
    return column.tokens, column.offsets


@final
class PreferenceGather(BatchGather[PreferenceBatch]):
    """Pairs from the four columns, each side padded to its own longest row (natively)."""

    def __init__(self, datasets: Sequence[TokenDataset], pad_idx: int) -> None:
        self._columns = [[_column(ds, name) for name in COLUMNS] for ds in datasets]
        self._pad = pad_idx

    @override
    def planned(self, plan: BatchPlan) -> _native.PlannedGather:
        pads = [self._pad, 0, self._pad, 0]
        return _native.PlannedGather(
            "padded",
            self._columns,
            pads,
            0,
            ids=np.ascontiguousarray(plan.ids),
            bounds=np.ascontiguousarray(plan.bounds, dtype=np.int64),
            dataset_starts=np.ascontiguousarray(plan.dataset_starts, dtype=np.int64),
            order=np.ascontiguousarray(plan.order),
        )

    @override
    def finish(self, arrays: dict[str, Any]) -> PreferenceBatch:
        return PreferenceBatch(
            chosen=_masked(arrays["c0"], arrays["c1"], arrays["c0_lens"]),
            rejected=_masked(arrays["c2"], arrays["c3"], arrays["c2_lens"]),
        )


def _masked(tokens: Tensor, mask: Tensor, lens: Tensor) -> MaskedBatch:
    return MaskedBatch(
        seqs=tokens[:, :-1], targets=tokens[:, 1:], seq_lens=lens - 1, loss_mask=mask[:, 1:].bool()
    )


def preference_reader(
    datasets: Sequence[TokenDataset],
    *,
    pad_idx: int,
    batch_size: int | None = None,
    max_num_tokens: int | None = None,
    options: ReaderOptions,
) -> PlannedBatchReader[PreferenceBatch]:
    """Pairs, a fixed number per batch or a padded token budget (both sides together);
    shuffled per epoch for training, all in order (split evenly over ranks) otherwise."""
    lengths = [[ds.column("chosen").lengths(), ds.column("rejected").lengths()] for ds in datasets]

    def plan(epoch: int) -> BatchPlan:
        full = plan_documents(
            lengths,
            batch_size=batch_size,
            max_num_tokens=max_num_tokens,
            seed=options.seed,
            epoch=epoch,
            shuffle=options.shuffle,
            weights=options.weights,
        )
        return full if options.shuffle else full.split_evenly(options.world_size)

    return PlannedBatchReader(
        plan,
        PreferenceGather(datasets, pad_idx),
        rank=options.rank,
        world_size=options.world_size,
        prefetch=options.prefetch,
        what=("training" if options.shuffle else "validation") + " preference pairs",
    )


def preference_readers(
    ctx: RunContext, prepared: PreparedData, train: TrainSection, pad_idx: int
) -> tuple[PlannedBatchReader[PreferenceBatch], PlannedBatchReader[PreferenceBatch] | None]:
    """This rank's training reader and validation reader (``None`` without validation)."""
    batch_size, budget = batch_sizes(train)

    def make(
        datasets: Sequence[TokenDataset], options: ReaderOptions
    ) -> PlannedBatchReader[PreferenceBatch]:
        return preference_reader(
            datasets, pad_idx=pad_idx, batch_size=batch_size, max_num_tokens=budget, options=options
        )

    return create_readers(ctx, prepared, make, train, what="preference pairs")
