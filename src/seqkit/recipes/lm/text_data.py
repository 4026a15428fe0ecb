"""Token streams for ``seqkit lm train``: token datasets as is, text tokenized once.

Text files are tokenized on rank 0 into ``OUTPUT_DIR/data/{train,valid}`` (the token-
dataset format), so every rank memory-maps the same tokens and a resumed run does not
tokenize again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seqkit.recipes.errors import RecipeDataError
from seqkit.recipes.lm.config import LmDataSection
from seqkit.recipes.run_context import RunContext
from seqkit.recipes.text_files import iter_lines
from seqkit.recipes.token_data import (
    TokenStream,
    is_token_dataset,
    read_token_dataset,
    stream_from_documents,
    write_token_dataset,
)
from seqkit.text import TextTokenizer

DATA_DIR = "data"
_ENCODE_CHUNK = 2048


def prepare_lm_streams(
    ctx: RunContext, data: LmDataSection, tokenizer: TextTokenizer, *, seed: int
) -> tuple[TokenStream, TokenStream | None]:
    """The training stream and the validation stream (``None`` if there is none)."""
    if not data.train_files:
        raise RecipeDataError(
            "No training data: set data.train_files, e.g. --config 'data.train_files=[corpus.txt]'."
        )
    datasets = [is_token_dataset(p) for p in data.train_files]
    if all(datasets):
        train = _concat([read_token_dataset(p) for p in data.train_files])
        valid = _valid_datasets(data.valid_files)
        return train, valid
    if any(datasets):
        raise RecipeDataError("data.train_files mixes token datasets and text files; use one kind.")
    cache = ctx.output_dir / DATA_DIR
    if not (cache / "train" / "index.json").is_file():
        ctx.main_first(lambda: _tokenize_text(data, tokenizer, cache, seed))
    else:
        ctx.gangs.root.barrier()
    train = read_token_dataset(cache / "train")
    valid = read_token_dataset(cache / "valid") if (cache / "valid").is_dir() else None
    return train, valid


def _valid_datasets(paths: list[Path]) -> TokenStream | None:
    if not paths:
        return None
    for path in paths:
        if not is_token_dataset(path):
            raise RecipeDataError(
                f"data.valid_files entry {path} is not a token dataset, but the training "
                f"files are; give validation data in the same form."
            )
    return _concat([read_token_dataset(p) for p in paths])


def _concat(streams: list[TokenStream]) -> TokenStream:
    if len(streams) == 1:
        return streams[0]
    tokens = np.concatenate([np.asarray(s.tokens) for s in streams])
    offsets = [np.zeros(1, dtype=np.uint64)]
    base = 0
    for stream in streams:
        offsets.append(np.asarray(stream.offsets[1:], dtype=np.uint64) + np.uint64(base))
        base += len(stream.tokens)
    return TokenStream(tokens, np.concatenate(offsets))


def _encode(tokenizer: TextTokenizer, lines: list[str]) -> list[list[int]]:
    encoder = tokenizer.create_encoder(mode="default")
    prefix, suffix = encoder.prefix_ids, encoder.suffix_ids
    documents: list[list[int]] = []
    for start in range(0, len(lines), _ENCODE_CHUNK):
        for ids in encoder.encode_ids_batch(lines[start : start + _ENCODE_CHUNK]):
            documents.append(prefix + ids + suffix)
    return documents


def _tokenize_text(data: LmDataSection, tokenizer: TextTokenizer, cache: Path, seed: int) -> None:
    lines: list[str] = []
    for path in data.train_files:
        remaining = None if data.max_documents is None else data.max_documents - len(lines)
        if remaining is not None and remaining <= 0:
            break
        lines.extend(iter_lines(path, limit=remaining))
    vocab_size = tokenizer.vocab_info.size
    if data.valid_files:
        valid_lines = [line for p in data.valid_files for line in iter_lines(p)]
        train_lines = lines
    elif data.valid_fraction > 0 and len(lines) >= 20:
        # A seeded random hold-out rather than the last lines, so validation covers
        # every part of the corpus (the last lines of a corpus are often one book).
        order = np.random.default_rng(seed).permutation(len(lines))
        num_valid = max(1, int(len(lines) * data.valid_fraction))
        held = set(order[:num_valid].tolist())
        valid_lines = [line for i, line in enumerate(lines) if i in held]
        train_lines = [line for i, line in enumerate(lines) if i not in held]
    else:
        valid_lines, train_lines = [], lines
    write_token_dataset(
        stream_from_documents(_encode(tokenizer, train_lines), vocab_size), cache / "train"
    )
    if valid_lines:
        write_token_dataset(
            stream_from_documents(_encode(tokenizer, valid_lines), vocab_size), cache / "valid"
        )
