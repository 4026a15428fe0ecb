from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from seqkit.data import (
    DataPipelineStateError,
    DataReadError,
    DataWriteError,
    TokenDatasetInfo,
    TokenWriter,
    concat_token_ids,
    load_token_index,
    read_tokens,
    token_dtype,
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


def test_token_writer_streams_batches_and_parallel_columns(tmp_path: Path) -> None:
    out = tmp_path / "par"
    with TokenWriter(out, dtype="uint16", columns=("source", "target")) as writer:
        for start in (0, 3):
            for column, scale in (("source", 1), ("target", 10)):
                lengths = np.array([1, 2, 0], dtype=np.int64)
                tokens = (np.arange(start, start + 3) * scale).astype("<u2")
                writer.write(tokens, lengths, column=column)
        writer.add_json("manifest.json", {"note": "é"})
        assert not out.exists()  # hidden until committed
    assert writer.info("source") == TokenDatasetInfo(dtype="uint16", num_documents=6, num_tokens=6)
    rows = [{k: v.tolist() for k, v in x.items()} for x in read_tokens(out).and_return()]
    assert rows[:3] == [
        {"source": [0], "target": [0]},
        {"source": [1, 2], "target": [10, 20]},
        {"source": [], "target": []},
    ]
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8")) == {"note": "é"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["par"]


def test_token_writer_exception_leaves_nothing_and_keeps_old(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    write_tokens(out, [[7]])
    with pytest.raises(DataWriteError, match="already exists"):
        TokenWriter(out)

    def interrupted() -> None:
        with TokenWriter(out, overwrite=True) as writer:
            writer.write(np.array([1, 2], dtype="<u2"), np.array([2]))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        interrupted()
    assert [x.tolist() for x in read_tokens(out).and_return()] == [[7]]  # old one intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_token_writer_checks_range_and_alignment(tmp_path: Path) -> None:
    writer = TokenWriter(tmp_path / "a")
    with pytest.raises(ValueError, match="70000 does not fit uint16"):
        writer.write(np.array([1, 70000]), np.array([2]))
    writer.abort()
    pair = TokenWriter(tmp_path / "b", columns=("source", "target"))
    pair.write(np.array([1]), np.array([1]), column="source")
    with pytest.raises(ValueError, match="different numbers of documents"):
        pair.commit()
    assert list(tmp_path.iterdir()) == []
    assert token_dtype(65536) == "uint16"  # ids 0..65535 fit
    assert token_dtype(65537) == "uint32"


def _write(writer: TokenWriter, column: str, docs: list[list[int]]) -> None:
    tokens = np.array([t for d in docs for t in d], dtype=np.int64)
    writer.write(tokens, np.array([len(d) for d in docs], dtype=np.int64), column=column)


def test_token_writer_nested_columns_check_counts_per_group(tmp_path: Path) -> None:
    out = tmp_path / "splits"
    names = ("train/source", "train/target", "valid/source", "valid/target")
    with TokenWriter(out, columns=names) as writer:
        _write(writer, "train/source", [[1], [2, 3], [4]])
        _write(writer, "train/target", [[5], [6], [7, 8]])
        _write(writer, "valid/source", [[9]])
        _write(writer, "valid/target", [[10, 11]])
        writer.add_json("manifest.json", {"made_by": "test"})
        with writer.open_file("valid/source.txt") as text:
            text.write(b"nine\n")
        assert writer.info("valid/target").num_tokens == 2
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "train", "valid"]
    assert (out / "valid" / "source.txt").read_bytes() == b"nine\n"
    valid = [{k: v.tolist() for k, v in x.items()} for x in read_tokens(out / "valid").and_return()]
    assert valid == [{"source": [9], "target": [10, 11]}]
    assert len(list(read_tokens(out / "train").and_return())) == 3
    assert list(tmp_path.iterdir()) == [out]  # one rename, no leftovers

    # A group whose columns disagree fails the commit and leaves nothing.
    bad = TokenWriter(tmp_path / "bad", columns=names)
    _write(bad, "train/source", [[1]])
    _write(bad, "train/target", [[1]])
    _write(bad, "valid/source", [[1], [2]])
    _write(bad, "valid/target", [[1]])
    with pytest.raises(ValueError, match=r"one group hold different numbers.*'valid/source': 2"):
        bad.commit()
    assert list(tmp_path.iterdir()) == [out]


def test_token_writer_groups_for_independent_siblings(tmp_path: Path) -> None:
    # Top-level columns share the root: one group, as ("source", "target") always were.
    same = TokenWriter(tmp_path / "same", columns=("train", "valid"))
    _write(same, "train", [[1], [2]])
    _write(same, "valid", [[3]])
    with pytest.raises(ValueError, match="different numbers of documents"):
        same.commit()
    # Explicit groups: the monolingual splits are independent datasets.
    with TokenWriter(tmp_path / "mono", groups=[["train"], ["valid"]]) as writer:
        _write(writer, "train", [[1], [2]])
        _write(writer, "valid", [[3]])
        with writer.open_file("valid/text.txt") as text:
            text.write(b"three\n")
    assert [t.tolist() for t in read_tokens(tmp_path / "mono" / "train").and_return()] == [[1], [2]]
    assert load_token_index(tmp_path / "mono" / "valid").num_documents == 1
    assert sorted(p.name for p in (tmp_path / "mono" / "valid").iterdir()) == [
        "index.json",
        "offsets.bin",
        "text.txt",
        "tokens.bin",
    ]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"columns": ["../x"]}, "relative path"),
        ({"columns": ["a//b"]}, "relative path"),
        ({"columns": ["/abs"]}, "relative path"),
        ({"columns": ["train", "train/source"]}, "lies inside column 'train'"),
        ({"columns": ["a", "a"]}, "distinct"),
        ({"columns": ["a"], "groups": [["a"]]}, "not both"),
        ({"groups": [[]]}, "non-empty"),
        ({"groups": [["a"], ["a"]]}, "distinct"),
    ],
)
def test_token_writer_rejects_bad_column_layouts(
    tmp_path: Path, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        TokenWriter(tmp_path / "ds", **kwargs)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_token_writer_abort_removes_extra_files(tmp_path: Path) -> None:
    writer = TokenWriter(tmp_path / "ds", groups=[["train"], ["valid"]])
    file = writer.open_file("valid/text.txt")
    file.write(b"x\n")
    with pytest.raises(ValueError, match="relative path"):
        writer.open_file("../escape.txt")
    writer.abort()
    assert file.closed
    assert list(tmp_path.iterdir()) == []


def test_token_writer_removes_partials_of_dead_processes(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = tmp_path / f".ds.partial-{int(dead.stdout)}-{socket.gethostname()}-abc123"
    stale.mkdir()
    (stale / "tokens.bin").write_bytes(b"\0\0")
    write_tokens(tmp_path / "ds", [[1]])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_concat_token_ids_frames_rows_in_one_array() -> None:
    tokens, lengths = concat_token_ids([[5, 6], [], [7]], prefix=[1], suffix=[2], dtype="uint16")
    assert tokens.dtype == np.uint16
    assert tokens.tolist() == [1, 5, 6, 2, 1, 2, 1, 7, 2]
    assert lengths.tolist() == [4, 2, 3]
    tokens, lengths = concat_token_ids([], dtype="uint32")
    assert (tokens.shape, lengths.shape) == ((0,), (0,))
    assert concat_token_ids([[70000]], dtype="uint32")[0].tolist() == [70000]
    # One-digit ints take a fast path; wider ones (2**30 and up) the general one.
    big = [0, 2**30 - 1, 2**30, 2**40]
    assert concat_token_ids([big], dtype="int64")[0].tolist() == [0, 2**30 - 1, 2**30, 2**40]
    with pytest.raises(ValueError, match="70000 of row 1 does not fit"):
        concat_token_ids([[1], [70000]], dtype="uint16")
    with pytest.raises(ValueError, match="-1 of row 0"):
        concat_token_ids([[-1]], dtype="int64")
    with pytest.raises(TypeError, match="row 0"):
        concat_token_ids(["abc"], dtype="uint16")  # type: ignore[list-item]


def test_concat_token_ids_runs_no_python_code_while_reading() -> None:
    # Only exact ints are read: an __index__ (arbitrary Python code) could otherwise grow
    # a row after its length was taken, and the copy would run past the buffer.
    later = [1, 2]

    class Growing:
        def __index__(self) -> int:
            later.extend(range(1000))
            return 3

    with pytest.raises(TypeError, match="item 0 of row 0 is not an int"):
        concat_token_ids([[Growing()], later], dtype="int64")  # type: ignore[list-item]
    with pytest.raises(TypeError, match="item 1 of row 0 is not an int"):
        concat_token_ids([[1, True]], dtype="int64")
    assert later == [1, 2]


def test_token_format_writing_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "token_format.md").read_text()
    snippet = re.findall(r"## Writing\n\n```python\n(.*?)```", text, flags=re.DOTALL)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, "docs/token_format.md#writing", "exec"), {})
    rows = [{k: v.tolist() for k, v in x.items()} for x in read_tokens("data/mt").and_return()]
    assert rows == [
        {"source": [5, 6, 2], "target": [1, 8, 2]},
        {"source": [7, 2], "target": [1, 9, 10, 11, 2]},
    ]


def test_token_writer_streams_offsets_across_batches(tmp_path: Path) -> None:
    docs = _docs(100)
    with TokenWriter(tmp_path / "ds", dtype="uint16") as writer:
        for start in range(0, 100, 7):  # batches of 7 documents, offsets continue across them
            batch = docs[start : start + 7]
            tokens, lengths = concat_token_ids(batch, dtype="uint16")
            writer.write(tokens, lengths)
    offsets = np.fromfile(tmp_path / "ds" / "offsets.bin", dtype="<u8")
    assert offsets.tolist() == np.concatenate([[0], np.cumsum([len(d) for d in docs])]).tolist()
    assert [t.tolist() for t in read_tokens(tmp_path / "ds").and_return()] == docs
    with pytest.raises(ValueError, match="negative"), TokenWriter(tmp_path / "neg") as bad:
        bad.write(np.array([1], dtype="<u2"), np.array([2, -1]))
    assert not (tmp_path / "neg").exists()


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


@pytest.mark.parametrize("same_size", [False, True])
def test_state_of_a_rewritten_dataset_fails_clearly(tmp_path: Path, same_size: bool) -> None:
    # Re-preprocessing into the same path must not let an old state resume on new tokens.
    docs = _docs(30)
    write_tokens(tmp_path / "ds", docs)
    p = _shuffled_packs(tmp_path / "ds")
    next(p)
    state = p.state_dict()
    del p
    rewritten = [[t + 1 for t in d] for d in docs] if same_size else [*docs, [7, 7, 7]]
    write_tokens(tmp_path / "ds", rewritten)
    q = _shuffled_packs(tmp_path / "ds")
    message = "differ from those the state was saved with" if same_size else "now has"
    with pytest.raises(DataPipelineStateError, match=message):
        q.load_state_dict(state)
    assert not q.is_broken
