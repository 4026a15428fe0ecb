"""Parallel text for ``seqkit mt train``: reading, tokenizing, batching sentence pairs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from seqkit.recipes.errors import RecipeDataError
from seqkit.recipes.mt.config import MtDataSection
from seqkit.recipes.text_files import iter_lines
from seqkit.text import TextTokenizer


def read_pairs(data: MtDataSection) -> list[tuple[str, str]]:
    """The training pairs (before any hold-out), from source/target files or TSV files."""
    pairs: list[tuple[str, str]] = []
    if data.source_file is not None and data.target_file is not None:
        pairs.extend(read_aligned(data.source_file, data.target_file))
    for path in data.tsv_files:
        pairs.extend(read_tsv(path))
    if not pairs:
        raise RecipeDataError(
            "No training pairs: set data.source_file and data.target_file (aligned by line) "
            "or data.tsv_files (source<TAB>target lines)."
        )
    return pairs[: data.max_pairs] if data.max_pairs is not None else pairs


def read_aligned(source: Path, target: Path) -> list[tuple[str, str]]:
    """Pairs from two files aligned line by line (blank lines must match too)."""
    src = _lines(source)
    tgt = _lines(target)
    if len(src) != len(tgt):
        raise RecipeDataError(
            f"{source} has {len(src)} lines but {target} has {len(tgt)}; parallel files must "
            "be aligned line by line."
        )
    return [(s, t) for s, t in zip(src, tgt) if s and t]


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise RecipeDataError(f"Data file {path} does not exist (or is not a file).")
    try:
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except UnicodeDecodeError as ex:
        raise RecipeDataError(f"{path} is not UTF-8 text ({ex.reason}).") from ex


def read_tsv(path: Path) -> list[tuple[str, str]]:
    """Pairs from ``source<TAB>target`` lines; a line without exactly one tab is an error."""
    pairs = []
    for line_nr, line in enumerate(iter_lines(path), start=1):
        parts = line.split("\t")
        if len(parts) != 2:
            raise RecipeDataError(
                f"{path}: line {line_nr} has {len(parts)} tab-separated fields; expected "
                "source<TAB>target."
            )
        pairs.append((parts[0].strip(), parts[1].strip()))
    return pairs


def split_valid(
    pairs: list[tuple[str, str]], size: int, seed: int
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Hold out ``size`` random pairs (seeded); return ``(train, valid)``."""
    if size == 0:
        return pairs, []
    if size >= len(pairs):
        raise RecipeDataError(
            f"data.valid_size={size} leaves no training pairs out of {len(pairs)}; lower it."
        )
    order = np.random.default_rng(seed).permutation(len(pairs)).tolist()
    held = set(order[:size])
    valid = [p for i, p in enumerate(pairs) if i in held]
    train = [p for i, p in enumerate(pairs) if i not in held]
    return train, valid


@dataclass(frozen=True, kw_only=True)
class TokenizedPairs:
    """Sentence pairs as token ids: source ``__xx__ ... </s>``, target ``<s> __yy__ ... </s>``."""

    sources: list[list[int]]
    """Source ids of each pair."""

    targets: list[list[int]]
    """Full target ids of each pair (the decoder reads ``[:-1]`` and predicts ``[1:]``)."""

    num_skipped: int
    """Pairs dropped because a side exceeded ``max_seq_len``."""

    def __len__(self) -> int:
        return len(self.sources)


def tokenize_pairs(
    pairs: list[tuple[str, str]], tokenizer: TextTokenizer, data: MtDataSection
) -> TokenizedPairs:
    """Encode both sides; drop (and count) pairs longer than ``data.max_seq_len``."""
    src_encoder = tokenizer.create_encoder(task="translation", lang=data.source_lang, mode="source")
    tgt_encoder = tokenizer.create_encoder(task="translation", lang=data.target_lang, mode="target")
    src_ids = src_encoder.encode_ids_batch([s for s, _ in pairs])
    tgt_ids = tgt_encoder.encode_ids_batch([t for _, t in pairs])
    sources, targets, skipped = [], [], 0
    for s, t in zip(src_ids, tgt_ids):
        source = src_encoder.prefix_ids + s + src_encoder.suffix_ids
        target = tgt_encoder.prefix_ids + t + tgt_encoder.suffix_ids
        if len(source) > data.max_seq_len or len(target) > data.max_seq_len + 1:
            skipped += 1
            continue
        sources.append(source)
        targets.append(target)
    return TokenizedPairs(sources=sources, targets=targets, num_skipped=skipped)


@dataclass(frozen=True, kw_only=True)
class PairBatch:
    """Right-padded source and target sides of a batch of pairs."""

    source: Tensor
    """Source ids ``[B, S_src]``."""

    source_lens: Tensor
    """Unpadded source lengths ``[B]``."""

    target_in: Tensor
    """Decoder input ids ``[B, S_tgt]`` (target without its last token)."""

    target_out: Tensor
    """Ids to predict ``[B, S_tgt]`` (target without its first token)."""

    target_lens: Tensor
    """Unpadded decoder lengths ``[B]``."""

    @property
    def num_targets(self) -> int:
        """Number of predicted (non-padding) tokens."""
        return int(self.target_lens.sum())


def collate_pairs(pairs: TokenizedPairs, indices: list[int], pad_idx: int) -> PairBatch:
    """Pad the pairs ``indices`` into a :class:`PairBatch`."""
    srcs = [pairs.sources[i] for i in indices]
    tgts = [pairs.targets[i] for i in indices]
    source = _pad(srcs, pad_idx)
    target_in = _pad([t[:-1] for t in tgts], pad_idx)
    target_out = _pad([t[1:] for t in tgts], pad_idx)
    return PairBatch(
        source=source,
        source_lens=torch.tensor([len(s) for s in srcs]),
        target_in=target_in,
        target_out=target_out,
        target_lens=torch.tensor([len(t) - 1 for t in tgts]),
    )


def _pad(rows: list[list[int]], pad_idx: int) -> Tensor:
    out = torch.full((len(rows), max(len(r) for r in rows)), pad_idx, dtype=torch.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.int64)
    return out
