from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from seqkit.text import (
    CharTokenizer,
    Column,
    PreprocessError,
    PreprocessOptions,
    SentencePieceTokenizer,
    TextTokenEncoder,
    preprocess,
)

from .conftest import REPO, bible_lines, read_token_dataset

QUIET = PreprocessOptions(progress=False, chunk_lines=64)


def _run(columns: list[Column], output: Path, tokenizer, **options) -> dict:
    opts = PreprocessOptions(**{"progress": False, "chunk_lines": 64, **options})
    result = preprocess(
        columns,
        output,
        vocab_size=tokenizer.vocab_info.size,
        tokenizer={"family": tokenizer.family},
        options=opts,
    )
    return result.manifest


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".partial-" in p.name or ".old-" in p.name)


def test_monolingual_read_back_equals_direct_tokenization(
    sp_tokenizer: SentencePieceTokenizer, corpus_dir: Path, tmp_path: Path
) -> None:
    encoder = sp_tokenizer.create_encoder()
    manifest = _run(
        [Column(path=corpus_dir / "web.en", encoder=encoder)], tmp_path / "ds", sp_tokenizer
    )
    docs = read_token_dataset(tmp_path / "ds")
    expected = [encoder(line).tolist() for line in bible_lines("web.en", 300)]
    assert docs == expected
    assert manifest["dtype"] == "uint16"
    assert manifest["num_documents"] == 300
    assert manifest["lines_skipped"] == 0
    assert json.loads((tmp_path / "ds" / "manifest.json").read_text()) == manifest
    assert _leftovers(tmp_path) == []


def test_read_back_through_the_data_pipeline(
    sp_tokenizer: SentencePieceTokenizer, corpus_dir: Path, tmp_path: Path
) -> None:
    data = pytest.importorskip("seqkit.data")
    read_tokens = getattr(data, "read_tokens", None)
    if read_tokens is None:
        pytest.skip("seqkit.data.read_tokens is not available yet")
    encoder = sp_tokenizer.create_encoder()
    _run([Column(path=corpus_dir / "web.en", encoder=encoder)], tmp_path / "ds", sp_tokenizer)
    pipeline = read_tokens(tmp_path / "ds").and_return()
    got = [[int(t) for t in doc] for doc in pipeline]
    assert got == [encoder(line).tolist() for line in bible_lines("web.en", 300)]


def test_parallel_dataset_is_aligned_with_language_tokens(
    sp_tokenizer: SentencePieceTokenizer, corpus_dir: Path, tmp_path: Path
) -> None:
    src = sp_tokenizer.create_encoder(mode="source", lang="en")
    tgt = sp_tokenizer.create_encoder(mode="target", lang="es")
    columns = [
        Column(path=corpus_dir / "train.en", encoder=src, subdir="source"),
        Column(path=corpus_dir / "train.es", encoder=tgt, subdir="target"),
    ]
    manifest = _run(columns, tmp_path / "par", sp_tokenizer)
    source = read_token_dataset(tmp_path / "par" / "source")
    target = read_token_dataset(tmp_path / "par" / "target")
    assert source == [src(t).tolist() for t in bible_lines("kjv-rv1909.en", 400)]
    assert target == [tgt(t).tolist() for t in bible_lines("kjv-rv1909.es", 400)]
    assert manifest["kind"] == "parallel"
    assert [side["output"] for side in manifest["inputs"]] == ["source", "target"]


def test_bad_lines_are_counted_and_reported(
    sp_tokenizer: SentencePieceTokenizer, tmp_path: Path
) -> None:
    good = bible_lines("web.en", 6, start=3000)
    raw = [
        good[0].encode(),
        b"caf\xe9 latin-1",  # invalid UTF-8
        b"",  # empty
        b" \t ",  # whitespace only
        ("word " * 400).encode(),  # over-long in tokens
        b"x" * 3000,  # over-long in bytes
        *(line.encode() for line in good[1:]),
    ]
    (tmp_path / "dirty.txt").write_bytes(b"\r\n".join(raw) + b"\n")
    encoder = sp_tokenizer.create_encoder()
    manifest = _run(
        [Column(path=tmp_path / "dirty.txt", encoder=encoder)],
        tmp_path / "ds",
        sp_tokenizer,
        max_tokens=200,
        max_bytes=2048,
        chunk_lines=4,
    )
    assert manifest["lines_read"] == 11
    assert manifest["lines_kept"] == 6
    assert manifest["skipped"] == {"empty": 2, "invalid_utf8": 1, "too_long": 2}
    file = tmp_path / "dirty.txt"
    assert manifest["skipped_examples"] == {
        "empty": [f"{file}:3", f"{file}:4"],
        "invalid_utf8": [f"{file}:2"],
        "too_long": [f"{file}:5", f"{file}:6"],  # line order: tokens (5), bytes (6)
    }
    assert read_token_dataset(tmp_path / "ds") == [encoder(t).tolist() for t in good]


def test_parallel_pair_is_dropped_when_either_side_is_bad(
    sp_tokenizer: SentencePieceTokenizer, tmp_path: Path
) -> None:
    (tmp_path / "a.en").write_bytes(b"one\n\ntwo\nthree\n")
    (tmp_path / "a.es").write_bytes(b"uno\ndos\n\xff\ntres\n")
    columns = [
        Column(
            path=tmp_path / "a.en",
            encoder=sp_tokenizer.create_encoder(mode="source"),
            subdir="source",
        ),
        Column(
            path=tmp_path / "a.es",
            encoder=sp_tokenizer.create_encoder(mode="target"),
            subdir="target",
        ),
    ]
    manifest = _run(columns, tmp_path / "par", sp_tokenizer)
    assert manifest["skipped"] == {"empty": 1, "invalid_utf8": 1}
    assert manifest["skipped_examples"]["invalid_utf8"] == [f"{tmp_path / 'a.es'}:3"]
    decoder = sp_tokenizer.create_decoder()
    assert [decoder(d) for d in read_token_dataset(tmp_path / "par" / "source")] == ["one", "three"]
    assert [decoder(d) for d in read_token_dataset(tmp_path / "par" / "target")] == ["uno", "tres"]


def test_misaligned_parallel_inputs_fail_and_leave_nothing(
    sp_tokenizer: SentencePieceTokenizer, tmp_path: Path
) -> None:
    (tmp_path / "a.en").write_text("one\ntwo\nthree\n")
    (tmp_path / "a.es").write_text("uno\ndos\n")
    encoder = sp_tokenizer.create_encoder()
    columns = [
        Column(path=tmp_path / "a.en", encoder=encoder, subdir="source"),
        Column(path=tmp_path / "a.es", encoder=encoder, subdir="target"),
    ]
    match = rf"{tmp_path / 'a.en'} has 3 lines but {tmp_path / 'a.es'} has 2; line 3 of"
    with pytest.raises(PreprocessError, match=match):
        _run(columns, tmp_path / "par", sp_tokenizer, chunk_lines=2)
    assert not (tmp_path / "par").exists()
    assert _leftovers(tmp_path) == []


class _FailingEncoder(TextTokenEncoder):
    """A real encoder that breaks on its third batch, like a crash mid-corpus."""

    def __init__(self, inner: TextTokenEncoder, exc: BaseException) -> None:
        super().__init__(prefix_ids=inner.prefix_ids, suffix_ids=inner.suffix_ids)
        self._inner = inner
        self._exc = exc
        self.calls = 0

    def encode_ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        self.calls += 1
        if self.calls == 3:
            raise self._exc
        return self._inner.encode_ids_batch(texts)


@pytest.mark.parametrize("exc", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_failure_mid_run_leaves_no_output(
    sp_tokenizer: SentencePieceTokenizer, corpus_dir: Path, tmp_path: Path, exc: BaseException
) -> None:
    encoder = _FailingEncoder(sp_tokenizer.create_encoder(), exc)
    with pytest.raises(type(exc)):
        _run([Column(path=corpus_dir / "web.en", encoder=encoder)], tmp_path / "ds", sp_tokenizer)
    assert encoder.calls >= 3  # one more batch may be in flight when the error surfaces
    assert not (tmp_path / "ds").exists()
    assert _leftovers(tmp_path) == []


def test_existing_output_is_kept_unless_overwrite(
    sp_tokenizer: SentencePieceTokenizer, corpus_dir: Path, tmp_path: Path
) -> None:
    encoder = sp_tokenizer.create_encoder()
    column = [Column(path=corpus_dir / "web.en", encoder=encoder)]
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "mine.txt").write_text("keep me")
    with pytest.raises(PreprocessError, match="--overwrite"):
        _run(column, tmp_path / "ds", sp_tokenizer)
    assert (tmp_path / "ds" / "mine.txt").read_text() == "keep me"
    _run(column, tmp_path / "ds", sp_tokenizer, overwrite=True)
    assert not (tmp_path / "ds" / "mine.txt").exists()
    assert len(read_token_dataset(tmp_path / "ds")) == 300
    assert _leftovers(tmp_path) == []


def test_large_vocabulary_uses_uint32(tmp_path: Path) -> None:
    tokenizer = CharTokenizer()
    (tmp_path / "t.txt").write_text("abc\n🙂x\n")
    manifest = _run(
        [Column(path=tmp_path / "t.txt", encoder=tokenizer.create_encoder())],
        tmp_path / "ds",
        tokenizer,
    )
    assert manifest["dtype"] == "uint32"
    assert read_token_dataset(tmp_path / "ds")[1] == [1, ord("🙂") + 4, ord("x") + 4, 2]


def test_input_without_usable_lines_fails(
    sp_tokenizer: SentencePieceTokenizer, tmp_path: Path
) -> None:
    (tmp_path / "blank.txt").write_text("\n\n  \n")
    with pytest.raises(PreprocessError, match=r"No usable line.*empty 3"):
        _run(
            [Column(path=tmp_path / "blank.txt", encoder=sp_tokenizer.create_encoder())],
            tmp_path / "ds",
            sp_tokenizer,
        )
    assert not (tmp_path / "ds").exists()


_KILLED_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from seqkit.text import Column, PreprocessOptions, SentencePieceTokenizer, preprocess

    model, corpus, output = map(Path, sys.argv[1:4])
    tokenizer = SentencePieceTokenizer.from_file(model)
    inner = tokenizer.create_encoder()

    class Slow(type(inner).__mro__[1]):
        calls = 0
        def encode_ids_batch(self, texts):
            Slow.calls += 1
            if Slow.calls == 2:
                print("started", flush=True)
                time.sleep(60)
            return inner.encode_ids_batch(texts)

    encoder = Slow(prefix_ids=inner.prefix_ids, suffix_ids=inner.suffix_ids)
    preprocess([Column(path=corpus, encoder=encoder)], output, vocab_size=400,
               tokenizer={}, options=PreprocessOptions(progress=False, chunk_lines=32))
    """
)


def test_killed_run_leaves_no_output_and_next_run_cleans_up(
    trained, sp_tokenizer: SentencePieceTokenizer, corpus_dir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "ds"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _KILLED_CHILD,
            str(trained.model_path),
            str(corpus_dir / "web.en"),
            str(output),
        ],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"started"
        (leftover,) = _leftovers(tmp_path)
        assert leftover.startswith(f".ds.partial-{child.pid}-{socket.gethostname()}-")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
    assert not output.exists()
    # The next run removes the dead process's leftovers and completes.
    _run(
        [Column(path=corpus_dir / "web.en", encoder=sp_tokenizer.create_encoder())],
        output,
        sp_tokenizer,
    )
    assert _leftovers(tmp_path) == []
    assert len(read_token_dataset(output)) == 300


def test_dtype_boundary() -> None:
    from seqkit.data import token_dtype

    assert token_dtype(65536) == "uint16"  # ids 0..65535 fit
    assert token_dtype(65537) == "uint32"


class _RecordingBar:
    """Stands in for tqdm: records the total and every update."""

    made: ClassVar[list[_RecordingBar]] = []

    def __init__(self, *, total: int, **_: object) -> None:
        self.total = total
        self.n = 0
        self.updates: list[int] = []
        _RecordingBar.made.append(self)

    def update(self, n: int) -> None:
        self.updates.append(n)
        self.n += n

    def __enter__(self) -> _RecordingBar:
        return self

    def __exit__(self, *_: object) -> None:
        pass


def test_progress_counts_utf8_bytes_not_characters(
    sp_tokenizer: SentencePieceTokenizer,
    corpus_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The package re-exports the function preprocess, which hides the module of that name.
    monkeypatch.setattr(sys.modules["seqkit.text.preprocess"], "tqdm", _RecordingBar)
    _RecordingBar.made.clear()
    path = corpus_dir / "train.es"  # Spanish: many characters take two bytes
    _run([Column(path=path, encoder=sp_tokenizer.create_encoder())], tmp_path / "ds", sp_tokenizer)
    (bar,) = _RecordingBar.made
    lines = bible_lines("kjv-rv1909.es", 400)
    first = sum(len(line.encode()) + 1 for line in lines[:64])  # chunk_lines=64
    assert first > sum(len(line) + 1 for line in lines[:64])
    assert bar.updates[0] == first
    assert bar.total == bar.n == path.stat().st_size
    assert bar.updates[-1] == 0  # a file with "\n" endings is exact before the last fix-up


def test_num_threads_reaches_the_encoders_and_the_manifest(
    sp_tokenizer: SentencePieceTokenizer, corpus_dir: Path, tmp_path: Path
) -> None:
    encoder = sp_tokenizer.create_encoder()
    column = [Column(path=corpus_dir / "web.en", encoder=encoder)]
    one = _run(column, tmp_path / "one", sp_tokenizer, num_threads=1)
    two = _run(column, tmp_path / "two", sp_tokenizer, num_threads=2, chunk_lines=7)
    assert one["encoding"] == {"num_threads": [1], "batch_lines": 64}
    assert two["encoding"] == {"num_threads": [2], "batch_lines": 7}
    assert read_token_dataset(tmp_path / "one") == read_token_dataset(tmp_path / "two")
    with pytest.raises(PreprocessError, match="num_threads"):
        PreprocessOptions(num_threads=0)


def test_crlf_and_missing_final_newline_read_back_equal(
    sp_tokenizer: SentencePieceTokenizer, tmp_path: Path
) -> None:
    lines = bible_lines("kjv-rv1909.es", 20, start=500)
    (tmp_path / "crlf.txt").write_bytes("\r\n".join(lines).encode())
    encoder = sp_tokenizer.create_encoder()
    manifest = _run(
        [Column(path=tmp_path / "crlf.txt", encoder=encoder)], tmp_path / "ds", sp_tokenizer
    )
    assert manifest["lines_read"] == 20
    assert read_token_dataset(tmp_path / "ds") == [encoder(t).tolist() for t in lines]
