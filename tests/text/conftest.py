"""Shared fixtures: one small SentencePiece model trained on real Bible text per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seqkit.text import SentencePieceTokenizer, TrainedTokenizer, train_sentencepiece

REPO = Path(__file__).resolve().parents[2]
BIBLE = REPO / "datasets" / "bible"


def bible_lines(name: str, count: int, start: int = 0) -> list[str]:
    """``count`` lines of ``datasets/bible/<name>`` from line ``start``."""
    with (BIBLE / name).open(encoding="utf-8") as file:
        lines = file.read().splitlines()
    return lines[start : start + count]


def read_token_dataset(directory: Path) -> list[list[int]]:
    """Read a token dataset straight from its documented format (docs/architecture.md)."""
    import json

    index = json.loads((directory / "index.json").read_text())
    assert index["format"] == "seqkit.tokens"
    assert index["version"] == 1
    dtype = {"uint16": "<u2", "uint32": "<u4"}[index["dtype"]]
    tokens = np.fromfile(directory / "tokens.bin", dtype=dtype)
    offsets = np.fromfile(directory / "offsets.bin", dtype="<u8")
    assert tokens.shape[0] == index["num_tokens"]
    assert offsets.shape[0] == index["num_documents"] + 1
    assert offsets[0] == 0
    assert offsets[-1] == tokens.shape[0]
    return [tokens[offsets[i] : offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few hundred aligned English/Spanish verses plus English-only text."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "train.en").write_text("\n".join(bible_lines("kjv-rv1909.en", 400)) + "\n")
    (root / "train.es").write_text("\n".join(bible_lines("kjv-rv1909.es", 400)) + "\n")
    (root / "web.en").write_text("\n".join(bible_lines("web.en", 300)) + "\n")
    return root


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path) -> TrainedTokenizer:
    """A joint English/Spanish unigram model with language tokens ``__en__``/``__es__``."""
    return train_sentencepiece(
        [corpus_dir / "train.en", corpus_dir / "train.es"],
        output_dir=tmp_path_factory.mktemp("spm"),
        vocab_size=400,
        model_type="unigram",
        name="bible-enes",
        langs=["en", "es"],
        num_threads=2,
        seed=7,
    )


@pytest.fixture(scope="session")
def sp_tokenizer(trained: TrainedTokenizer) -> SentencePieceTokenizer:
    """The session model, loaded."""
    return SentencePieceTokenizer.from_file(trained.model_path)
