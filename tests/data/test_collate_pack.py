from __future__ import annotations

import numpy as np
import pytest
import torch

from seqkit.data import CollateError, Collater, DataPipelineError, read_sequence
from tests.data.conftest import check_resume_everywhere


def test_collate_pads_to_long_tensors() -> None:
    out = Collater(pad_value=0, pad_to_multiple=4)([[1, 2, 3], [4, 5]])
    assert out["seqs"].dtype == torch.int64
    assert out["seqs"].tolist() == [[1, 2, 3, 0], [4, 5, 0, 0]]
    assert out["seq_lens"].tolist() == [3, 2]
    assert out["is_ragged"] is True


def test_collate_nested_dicts_scalars_strings_and_tensors() -> None:
    batch = [
        {"src": {"ids": torch.tensor([1, 2])}, "id": 1, "w": 0.5, "text": "a", "ok": True},
        {"src": {"ids": torch.tensor([3])}, "id": 2, "w": 1.5, "text": "b", "ok": False},
    ]
    out = Collater(pad_value=9)(batch)
    assert out["src"]["ids"]["seqs"].tolist() == [[1, 2], [3, 9]]
    assert out["id"].tolist() == [1, 2]
    assert out["w"].dtype == torch.float64
    assert out["text"] == ["a", "b"]
    assert out["ok"].tolist() == [True, False]


def test_collate_stacks_same_shapes_without_pad() -> None:
    batch = [np.ones((2, 3), dtype=np.float32), np.zeros((2, 3), dtype=np.float32)]
    out = Collater()(batch)
    assert isinstance(out, torch.Tensor)
    assert out.shape == (2, 2, 3)
    assert out.dtype == torch.float32


def test_collate_errors_name_the_field() -> None:
    with pytest.raises(CollateError, match="pad_value"):
        Collater()([torch.ones(2), torch.ones(3)])
    with pytest.raises(CollateError, match="example 1 has no key 'b'"):
        Collater()([{"b": 1}, {"c": 1}])
    p = read_sequence([1, 2]).collate().and_return()
    with pytest.raises(DataPipelineError, match="bucket"):
        next(p)


def test_collate_in_pipeline_is_zero_copy_tensor() -> None:
    p = read_sequence([[1, 2], [3]]).bucket(2).collate(pad_value=-1).and_return()
    batch = next(p)
    assert batch["seqs"].tolist() == [[1, 2], [3, -1]]
    batch["seqs"][0, 0] = 7  # owned by the tensor: writable


def test_pack_rows_and_document_lengths() -> None:
    docs = [[1, 2, 3], [4, 5, 6, 7, 8, 9, 10], [11]]
    p = read_sequence(docs).pack(4, pad_value=0).and_return()
    rows = list(p)
    assert [r["seqs"].tolist() for r in rows] == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 0]]
    assert [r["doc_lens"] for r in rows] == [[3, 1], [4], [2, 1]]


def test_pack_drop_remainder_is_counted() -> None:
    p = read_sequence([[1, 2, 3], [4, 5], []]).pack(4, drop_remainder=True).and_return()
    assert [r["seqs"].tolist() for r in p] == [[1, 2, 3, 4]]
    stats = p.stats()[0]
    assert stats["dropped_tokens"] == 1
    assert stats["empty_documents"] == 1


def test_pack_then_collate_gives_doc_lens_per_row() -> None:
    docs = [list(range(1, n + 1)) for n in (5, 2, 6, 3)]
    p = read_sequence(docs).pack(4).bucket(2).collate().and_return()
    batch = next(p)
    assert batch["seqs"].shape == (2, 4)
    assert batch["doc_lens"] == [[4], [1, 2, 1]]


def test_pack_resumes_mid_document() -> None:
    docs = [np.arange(n, dtype=np.uint16) for n in (7, 1, 12, 3, 5)]
    check_resume_everywhere(lambda: read_sequence(docs).pack(5).and_return())


def test_pack_rejects_non_token_input() -> None:
    p = read_sequence(["text"]).pack(4).and_return()
    with pytest.raises(DataPipelineError, match="1-d token arrays"):
        next(p)
