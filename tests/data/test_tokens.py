from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from seqkit.data import (
    DataPipelineStateError,
    DataReadError,
    load_token_index,
    read_tokens,
    write_tokens,
)
from tests.data.conftest import check_resume_everywhere


def _docs(n: int = 40) -> list[list[int]]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 60000, size=int(rng.integers(0, 30))).tolist() for _ in range(n)]


@pytest.mark.parametrize("dtype", ["uint16", "uint32"])
def test_round_trip_and_zero_copy(tmp_path: Path, dtype: str) -> None:
    docs = _docs()
    info = write_tokens(tmp_path / "ds", docs, dtype=dtype)  # type: ignore[arg-type]
    assert info.num_documents == len(docs)
    assert info.num_tokens == sum(len(d) for d in docs)
    raw = (tmp_path / "ds" / "tokens.bin").read_bytes()
    assert len(raw) == info.num_tokens * (2 if dtype == "uint16" else 4)
    out = list(read_tokens(tmp_path / "ds").and_return())
    assert [t.tolist() for t in out] == docs
    assert out[0].dtype == getattr(torch, dtype)
    # Views of one mapping: consecutive documents are adjacent in memory.
    nonempty = [t for t in out if t.numel() > 0]
    a, b = nonempty[0], nonempty[1]
    assert b.data_ptr() >= a.data_ptr() + a.numel() * a.element_size()
    a[0] = 1  # copy-on-write mapping: writable, and the file is unchanged
    assert (tmp_path / "ds" / "tokens.bin").read_bytes() == raw


def test_index_format_is_as_documented(tmp_path: Path) -> None:
    write_tokens(tmp_path / "ds", [[1, 2], [3]])
    index = json.loads((tmp_path / "ds" / "index.json").read_text())
    assert index == {
        "format": "seqkit.tokens",
        "version": 1,
        "dtype": "uint16",
        "num_documents": 2,
        "num_tokens": 3,
    }
    offsets = np.fromfile(tmp_path / "ds" / "offsets.bin", dtype="<u8")
    assert offsets.tolist() == [0, 2, 3]


def test_shard_reads_only_its_documents(tmp_path: Path) -> None:
    docs = _docs(10)
    write_tokens(tmp_path / "ds", docs)
    p = read_tokens(tmp_path / "ds").shard(1, 3).and_return()
    assert [t.tolist() for t in p] == [docs[i] for i in (1, 4, 7)]
    assert p.stats()[0]["split_at_source"] == 1


def test_parallel_dataset(tmp_path: Path) -> None:
    write_tokens(tmp_path / "par" / "source", [[1], [2, 3]])
    write_tokens(tmp_path / "par" / "target", [[4, 5], [6]])
    out = list(read_tokens(tmp_path / "par").and_return())
    assert [(d["source"].tolist(), d["target"].tolist()) for d in out] == [
        ([1], [4, 5]),
        ([2, 3], [6]),
    ]
    shard = read_tokens(tmp_path / "par").shard(1, 2).and_return()
    assert [(d["source"].tolist(), d["target"].tolist()) for d in shard] == [([2, 3], [6])]
    assert shard.stats()[0]["split_at_source"] == 1


def test_resume_through_shuffle_pack_collate(tmp_path: Path) -> None:
    write_tokens(tmp_path / "ds", _docs(30))

    def build():
        return (
            read_tokens(tmp_path / "ds")
            .shuffle(8, seed=2)
            .pack(16)
            .bucket(2)
            .collate()
            .and_return()
        )

    check_resume_everywhere(build)


def test_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataReadError, match=r"index\.json"):
        read_tokens(tmp_path)
    write_tokens(tmp_path / "ds", [[1, 2, 3]])
    tokens = tmp_path / "ds" / "tokens.bin"
    tokens.write_bytes(tokens.read_bytes()[:-2])
    with pytest.raises(DataReadError, match=r"tokens\.bin.*truncated"):
        read_tokens(tmp_path / "ds")
    (tmp_path / "ds" / "index.json").write_text('{"format": "seqkit.tokens", "version": 2}')
    with pytest.raises(DataReadError, match="version"):
        load_token_index(tmp_path / "ds")
    with pytest.raises(ValueError, match="uint32"):
        write_tokens(tmp_path / "big", [[70000]])
    assert not (tmp_path / "big").exists()


def _shuffled_packs(directory: Path):
    return read_tokens(directory).shuffle(8, seed=2).pack(16).bucket(2).collate().and_return()


def _walk(x: object) -> list[dict[str, object]]:
    if isinstance(x, dict):
        return [x, *(d for v in x.values() for d in _walk(v))]
    if isinstance(x, list):
        return [d for v in x for d in _walk(v)]
    return []


def test_state_names_token_documents_by_position(tmp_path: Path) -> None:
    # Buffered documents (and a packed document's tail) are saved as (file, offset), not
    # as copies of their tokens.
    write_tokens(tmp_path / "ds", _docs(30))
    p = _shuffled_packs(tmp_path / "ds")
    next(p)
    dicts = _walk(p.state_dict())
    assert any("__token_slice__" in d for d in dicts)
    assert not any("__array__" in d for d in dicts)
    check_resume_everywhere(lambda: _shuffled_packs(tmp_path / "ds"), positions=[0, 1, 3])


def test_state_follows_a_moved_dataset(tmp_path: Path) -> None:
    # Resuming where the dataset lives elsewhere (another machine): the token file is
    # found as the only open one of the saved size.
    write_tokens(tmp_path / "a", _docs(30))
    p = _shuffled_packs(tmp_path / "a")
    next(p)
    state = p.state_dict()
    rest = [x["seqs"].tolist() for x in p]
    (tmp_path / "b").mkdir()
    for name in ("tokens.bin", "offsets.bin", "index.json"):
        (tmp_path / "b" / name).write_bytes((tmp_path / "a" / name).read_bytes())
    del p
    moved = _shuffled_packs(tmp_path / "b")
    moved.load_state_dict(state)
    assert [x["seqs"].tolist() for x in moved] == rest


def test_state_of_tokens_no_source_has_open_fails_clearly(tmp_path: Path) -> None:
    write_tokens(tmp_path / "a", _docs(30))
    write_tokens(tmp_path / "other", _docs(31))
    p = _shuffled_packs(tmp_path / "a")
    next(p)
    state = p.state_dict()
    del p
    other = _shuffled_packs(tmp_path / "other")
    with pytest.raises(DataPipelineStateError, match="no read_tokens source"):
        other.load_state_dict(state)
    assert not other.is_broken
