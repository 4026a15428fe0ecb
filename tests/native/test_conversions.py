"""Fast paths of the native <-> Python conversions keep the exact values.

Strings leave C++ with their UTF-8 cache filled, tensors leave through a raw DLPack
capsule, and Python callables run on native threads that keep one thread state.
"""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import torch

from seqkit.data import DataPipeline, read_sequence, read_text, read_tokens, write_tokens
from tests.data.conftest import check_resume_everywhere

TEXTS = ["héllo wörld", "日本語のテキスト", "emoji 😀 end", "é", "ß", "", "plain ascii"]


def test_strings_round_trip_and_encode_to_the_same_utf8() -> None:
    out = list(read_sequence(TEXTS).and_return())
    assert out == TEXTS
    for got, want in zip(out, TEXTS, strict=True):
        assert got.encode("utf-8") == want.encode("utf-8")
        assert got.encode("utf-8", "surrogateescape") == want.encode("utf-8")
        assert len(got) == len(want)


def test_invalid_utf8_lines_keep_their_bytes(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    path.write_bytes("añb\n".encode() + b"b\xe9ad\n" + "日本\n".encode())
    lines = list(read_text(path, encoding_errors="replace").and_return())
    assert lines == ["añb", "b\ufffdad", "日本"]
    assert lines[0].encode() == "añb".encode()


def test_str_from_a_python_callable_sees_utf8_text() -> None:
    # The callable receives native-made strings and encodes them, as tokenizers do.
    out = list(read_sequence(TEXTS).map(lambda s: list(s.encode("utf-8"))).and_return())
    assert [bytes(b) for b in out] == [t.encode("utf-8") for t in TEXTS]


def test_tensors_outlive_their_pipeline(tmp_path: Path) -> None:
    docs = [torch.arange(i, i + 50, dtype=torch.int64) for i in range(40)]
    write_tokens(tmp_path / "tok", docs, dtype="uint16")
    pipeline = read_tokens(tmp_path / "tok").pack(64).bucket(4).collate().and_return()
    batches = list(pipeline)
    del pipeline
    gc.collect()
    flat = torch.cat([b["seqs"].reshape(-1) for b in batches])
    want = torch.cat(docs)
    assert torch.equal(flat[: want.numel()], want)
    assert all(b["seqs"].dtype == torch.int64 for b in batches)


def test_batches_of_many_packed_rows_are_views_of_one_block(tmp_path: Path) -> None:
    docs = [torch.full((100,), i, dtype=torch.int64) for i in range(200)]
    write_tokens(tmp_path / "tok", docs, dtype="uint16")
    pipeline = read_tokens(tmp_path / "tok").pack(32).bucket(32).collate().and_return()
    batches = list(pipeline)
    full = [b for b in batches if b["seqs"].shape[0] == 32]
    assert full
    # Two batches of 32 rows of 32 tokens come from one 64-row block: views, not copies.
    first, second = full[0]["seqs"], full[1]["seqs"]
    assert second.data_ptr() == first.data_ptr() + first.numel() * 8
    assert torch.equal(torch.cat([b["seqs"].reshape(-1) for b in batches])[:20000], torch.cat(docs))


def test_callables_on_native_threads_many_times() -> None:
    threads: set[int] = set()

    def fn(x: int) -> int:
        threads.add(threading.get_ident())
        return x * 2

    for _ in range(3):
        pipeline = read_sequence(list(range(500))).map(fn, num_parallel_calls=2).prefetch(3)
        assert list(pipeline.and_return()) == [x * 2 for x in range(500)]
    assert threading.get_ident() not in threads  # every call ran on a native thread


def test_batches_of_int_lists_convert_in_one_pass_with_the_same_values() -> None:
    # A tokenizer's batch (a list of int lists) shares one native buffer; the values, the
    # empty examples and the fallbacks (floats, huge ints, mixed items) stay exact.
    batches = [
        [[1, 2, 3], [], [4], [2**40, -5, 0, -(2**63), 2**63 - 1], [7]],
        [[], []],
        [[1], [1.5]],
        [[1], "x"],
        [[1], [2**70]],
        [[1, "a"], [2]],
    ]
    out = list(read_sequence(batches).and_return())
    assert out == batches
    # Examples outlive the batch they came in (they keep its buffer alive).
    pipeline = read_sequence([batches[0]]).map(lambda b: b).unbatch().and_return()
    examples = list(pipeline)
    del pipeline
    gc.collect()
    assert examples == batches[0]
    padded = (
        read_sequence([[[5, 6, 7], [8]]])
        .map(lambda b: b)
        .unbatch()
        .bucket(2)
        .collate(pad_value=0)
        .and_return()
    )
    batch = next(padded)
    assert batch["seqs"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["seq_lens"].tolist() == [3, 1]


def test_examples_of_a_shared_batch_buffer_resume_exactly() -> None:
    # Examples from one converted batch sit in a shuffle window; the saved window loads
    # back (again as one batch of int lists) and the run continues exactly.
    def build() -> DataPipeline:
        return (
            read_sequence([[i, i + 1, -i] for i in range(30)])
            .bucket(4)
            .map(lambda batch: batch)
            .unbatch()
            .shuffle(5, seed=1)
            .and_return()
        )

    assert len(check_resume_everywhere(build)) == 30
