from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from seqkit.data import DataReadError
from seqkit.recipes.errors import RecipeDataError
from seqkit.recipes.lm.packing import PackedRows
from seqkit.recipes.token_data import (
    is_token_dataset,
    read_token_dataset,
    stream_from_documents,
    write_token_dataset,
)

DOCS = [[1, 10, 11, 2], [1, 12, 2], [1, 13, 14, 15, 16, 2], [1, 17, 2]]


def test_token_dataset_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "ds"
    write_token_dataset(stream_from_documents(DOCS, vocab_size=100), path)
    assert is_token_dataset(path)
    index = json.loads((path / "index.json").read_text())
    assert index == {
        "format": "seqkit.tokens",
        "version": 1,
        "dtype": "uint16",
        "num_documents": 4,
        "num_tokens": 16,
    }
    stream = read_token_dataset(path)
    assert [stream.document(i).tolist() for i in range(stream.num_documents)] == DOCS
    assert not (tmp_path / "ds.tmp").exists()


def test_large_vocab_uses_uint32(tmp_path: Path) -> None:
    write_token_dataset(stream_from_documents([[70_000, 1]], vocab_size=80_000), tmp_path / "d")
    assert read_token_dataset(tmp_path / "d").document(0).tolist() == [70_000, 1]


def test_truncated_dataset_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "ds"
    write_token_dataset(stream_from_documents(DOCS, vocab_size=100), path)
    data = (path / "tokens.bin").read_bytes()
    (path / "tokens.bin").write_bytes(data[:-2])
    with pytest.raises(RecipeDataError, match="truncated or corrupt"):
        read_token_dataset(path)
    (path / "index.json").write_text('{"format": "other"}')
    with pytest.raises(DataReadError, match=r"'format' must be 'seqkit\.tokens'"):
        read_token_dataset(path)


def test_packed_rows_cover_every_target_once_with_document_pieces() -> None:
    stream = stream_from_documents(DOCS, vocab_size=100)
    rows = PackedRows(stream, seq_len=5)
    assert len(rows) == 3  # (16 - 1) // 5
    batch = rows.batch([0, 1, 2])
    flat = np.concatenate([d for d in DOCS]).tolist()
    assert batch.seqs.flatten().tolist() == flat[:15]
    assert batch.targets.flatten().tolist() == flat[1:16]
    # Row 0 holds doc 0 (4 tokens) and the first token of doc 1; row 1 the rest of doc 1
    # (2 tokens) and the first 3 of doc 2; row 2 the rest of doc 2 and doc 3's first 2.
    assert batch.doc_lens == [[4, 1], [2, 3], [3, 2]]
    assert all(sum(lens) == 5 for lens in batch.doc_lens)
    assert batch.seqs.dtype == torch.int64
