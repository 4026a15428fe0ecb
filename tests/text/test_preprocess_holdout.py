"""``preprocess(..., holdout=Holdout(...))``: a seeded validation split committed with train."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from seqkit.cli.main import main
from seqkit.data import read_tokens
from seqkit.text import (
    Column,
    Holdout,
    PreprocessError,
    PreprocessOptions,
    PreprocessResult,
    SentencePieceTokenizer,
    preprocess,
    split_dirs,
)

from .conftest import REPO, bible_lines, read_token_dataset
from .test_preprocess import _KILLED_CHILD, _FailingEncoder, _leftovers

# The killed child of test_preprocess.py, writing with a hold-out and its text.
_KILLED_HOLDOUT_CHILD = _KILLED_CHILD.replace("import Column,", "import Column, Holdout,").replace(
    "chunk_lines=32))",
    "chunk_lines=32),\n           holdout=Holdout(size=50, keep_text=True))",
)


def _run(
    columns: list[Column],
    output: Path,
    tokenizer: SentencePieceTokenizer,
    holdout: Holdout | None,
    **options: object,
) -> PreprocessResult:
    opts = PreprocessOptions(**{"progress": False, "chunk_lines": 64, **options})  # type: ignore[arg-type]
    return preprocess(
        columns,
        output,
        vocab_size=tokenizer.vocab_info.size,
        tokenizer={"family": tokenizer.family},
        options=opts,
        holdout=holdout,
    )


def _mono(corpus_dir: Path, tokenizer: SentencePieceTokenizer) -> list[Column]:
    return [Column(path=corpus_dir / "web.en", encoder=tokenizer.create_encoder())]


def _parallel(paths: tuple[Path, Path], tokenizer: SentencePieceTokenizer) -> list[Column]:
    return [
        Column(
            path=paths[0],
            encoder=tokenizer.create_encoder(mode="source", lang="en"),
            subdir="source",
        ),
        Column(
            path=paths[1],
            encoder=tokenizer.create_encoder(mode="target", lang="es"),
            subdir="target",
        ),
    ]


def _as_multiset(docs: list[list[int]]) -> Counter[tuple[int, ...]]:
    return Counter(tuple(d) for d in docs)


def test_holdout_indices_are_the_documented_draw() -> None:
    held = Holdout(size=5, seed=11).indices(100)
    expected = np.sort(np.random.default_rng(11).choice(100, size=5, replace=False))
    assert held.tolist() == expected.tolist()
    assert Holdout(fraction=0.1, seed=11).count(305) == 30
    assert Holdout(fraction=0.001).count(300) == 1  # at least one line when fraction > 0


def test_monolingual_holdout_size_is_exact_and_partitions_the_corpus(
    sp_tokenizer: SentencePieceTokenizer, corpus_dir: Path, tmp_path: Path
) -> None:
    columns = _mono(corpus_dir, sp_tokenizer)
    plain = read_token_dataset(_run(columns, tmp_path / "plain", sp_tokenizer, None).output)
    result = _run(columns, tmp_path / "ds", sp_tokenizer, Holdout(size=30, seed=5))
    out = tmp_path / "ds"
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "train", "valid"]
    assert split_dirs(out) == (out / "train", out / "valid")
    assert split_dirs(tmp_path / "plain") == (tmp_path / "plain", None)
    train, valid = read_token_dataset(out / "train"), read_token_dataset(out / "valid")
    assert len(valid) == 30
    assert len(train) == 270
    assert _as_multiset(train) + _as_multiset(valid) == _as_multiset(plain)
    # Each valid document is the held-out line tokenized directly, in input order.
    lines = bible_lines("web.en", 300)
    held = Holdout(size=30, seed=5).indices(300).tolist()
    encoder = columns[0].encoder
    assert valid == [encoder(lines[i]).tolist() for i in held]
    assert train == [encoder(line).tolist() for i, line in enumerate(lines) if i not in held]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest == result.manifest
    assert manifest["holdout"]["count"] == 30
    assert manifest["holdout"]["input_lines"] == 300
    assert (manifest["holdout"]["size"], manifest["holdout"]["seed"]) == (30, 5)
    assert manifest["splits"]["valid"]["num_documents"] == 30
    assert manifest["splits"]["train"]["num_documents"] == 270
    assert manifest["splits"]["valid"]["num_tokens"] == sum(len(d) for d in valid)
    assert manifest["splits"]["train"]["num_tokens"] == sum(len(d) for d in train)
    assert manifest["num_documents"] == 300
    assert result.splits["valid"].lines_kept == 30
    # Each split is a dataset read_tokens reads.
    assert [d.tolist() for d in read_tokens(out / "valid").and_return()] == valid
    assert _leftovers(tmp_path) == []


def test_holdout_fraction(
    sp_tokenizer: SentencePieceTokenizer, corpus_dir: Path, tmp_path: Path
) -> None:
    result = _run(
        _mono(corpus_dir, sp_tokenizer), tmp_path / "ds", sp_tokenizer, Holdout(fraction=0.1)
    )
    assert len(read_token_dataset(tmp_path / "ds" / "valid")) == 30
    assert result.manifest["holdout"]["fraction"] == 0.1
    assert result.manifest["holdout"]["size"] is None
    assert result.manifest["holdout"]["count"] == 30


def test_same_seed_same_split_different_seed_different_split(
    sp_tokenizer: SentencePieceTokenizer, corpus_dir: Path, tmp_path: Path
) -> None:
    columns = _mono(corpus_dir, sp_tokenizer)
    _run(columns, tmp_path / "a", sp_tokenizer, Holdout(size=20, seed=1))
    # The draw depends on the line count and the seed only, not on the batch size.
    _run(columns, tmp_path / "b", sp_tokenizer, Holdout(size=20, seed=1), chunk_lines=7)
    _run(columns, tmp_path / "c", sp_tokenizer, Holdout(size=20, seed=2))
    a, b, c = (read_token_dataset(tmp_path / n / "valid") for n in "abc")
    assert a == b
    assert (tmp_path / "a" / "valid" / "tokens.bin").read_bytes() == (
        tmp_path / "b" / "valid" / "tokens.bin"
    ).read_bytes()
    assert a != c
    assert len(c) == 20


def test_parallel_holdout_keeps_alignment_and_text(
    sp_tokenizer: SentencePieceTokenizer, corpus_dir: Path, tmp_path: Path
) -> None:
    columns = _parallel((corpus_dir / "train.en", corpus_dir / "train.es"), sp_tokenizer)
    holdout = Holdout(size=25, seed=3, keep_text=True)
    result = _run(columns, tmp_path / "par", sp_tokenizer, holdout)
    out = tmp_path / "par"
    assert sorted(p.name for p in (out / "valid").iterdir()) == [
        "source",
        "source.txt",
        "target",
        "target.txt",
    ]
    assert sorted(p.name for p in (out / "train").iterdir()) == ["source", "target"]
    en, es = bible_lines("kjv-rv1909.en", 400), bible_lines("kjv-rv1909.es", 400)
    held = holdout.indices(400).tolist()
    src, tgt = columns[0].encoder, columns[1].encoder
    assert read_token_dataset(out / "valid" / "source") == [src(en[i]).tolist() for i in held]
    assert read_token_dataset(out / "valid" / "target") == [tgt(es[i]).tolist() for i in held]
    rest = [i for i in range(400) if i not in held]
    assert read_token_dataset(out / "train" / "source") == [src(en[i]).tolist() for i in rest]
    assert read_token_dataset(out / "train" / "target") == [tgt(es[i]).tolist() for i in rest]
    text = (out / "valid" / "source.txt").read_text(encoding="utf-8").split("\n")
    assert text == [en[i] for i in held] + [""]
    text = (out / "valid" / "target.txt").read_text(encoding="utf-8").split("\n")
    assert text == [es[i] for i in held] + [""]
    # read_tokens pairs each split's two sides.
    pairs = list(read_tokens(out / "valid").and_return())
    assert len(pairs) == 25
    assert pairs[0]["source"].tolist() == src(en[held[0]]).tolist()
    manifest = result.manifest
    assert manifest["holdout"]["text_files"] == ["valid/source.txt", "valid/target.txt"]
    assert [o["output"] for o in manifest["splits"]["train"]["outputs"]] == [
        "train/source",
        "train/target",
    ]
    assert manifest["splits"]["valid"]["num_documents"] == 25


def test_bad_lines_are_skipped_where_they_fall_and_counted_per_split(
    sp_tokenizer: SentencePieceTokenizer, tmp_path: Path
) -> None:
    good = bible_lines("web.en", 60, start=1000)
    raw = [line.encode() for line in good]
    holdout = Holdout(size=20, seed=9, keep_text=True)
    held = holdout.indices(60).tolist()
    bad = {held[0]: b"", held[1]: b"\xff\xfe", held[2]: ("word " * 300).encode()}
    train_bad = [i for i in range(60) if i not in held][:2]
    bad |= {train_bad[0]: b"   ", train_bad[1]: b"caf\xe9"}
    for i, line in bad.items():
        raw[i] = line
    path = tmp_path / "dirty.txt"
    path.write_bytes(b"\n".join(raw) + b"\n")
    encoder = sp_tokenizer.create_encoder()
    result = _run(
        [Column(path=path, encoder=encoder)],
        tmp_path / "ds",
        sp_tokenizer,
        holdout,
        max_tokens=200,
        chunk_lines=8,
    )
    train, valid = result.splits["train"], result.splits["valid"]
    assert (valid.lines_read, valid.lines_kept) == (20, 17)
    assert valid.skipped == {"empty": 1, "invalid_utf8": 1, "too_long": 1}
    assert (train.lines_read, train.lines_kept) == (40, 38)
    assert train.skipped == {"empty": 1, "invalid_utf8": 1}
    assert train.examples["empty"] == [f"{path}:{train_bad[0] + 1}"]
    assert result.report.lines_skipped == 5
    splits = result.manifest["splits"]
    assert splits["valid"]["skipped"] == valid.skipped
    assert splits["train"]["lines_kept"] == 38
    kept_held = [i for i in held if i not in bad]
    docs = read_token_dataset(tmp_path / "ds" / "valid")
    assert docs == [encoder(good[i]).tolist() for i in kept_held]
    # The text is aligned with the documents: bad held-out lines are in neither.
    text = (tmp_path / "ds" / "valid" / "text.txt").read_text(encoding="utf-8")
    assert text.split("\n")[:-1] == [good[i] for i in kept_held]
    assert [encoder(t).tolist() for t in text.split("\n")[:-1]] == docs


def test_holdout_option_errors() -> None:
    with pytest.raises(PreprocessError, match=r"exactly one of size= .* and fraction="):
        Holdout(size=3, fraction=0.1)
    with pytest.raises(PreprocessError, match="exactly one"):
        Holdout()
    with pytest.raises(PreprocessError, match="size must be a positive"):
        Holdout(size=0)
    for fraction in (0.0, 1.0, -0.5):
        with pytest.raises(PreprocessError, match="strictly between 0 and 1"):
            Holdout(fraction=fraction)
    with pytest.raises(PreprocessError, match="seed must be a non-negative"):
        Holdout(size=1, seed=-1)
    with pytest.raises(PreprocessError, match=r"size=10 holds out all 10 .* no training data"):
        Holdout(size=10).count(10)
    with pytest.raises(PreprocessError, match="smaller fraction"):
        Holdout(fraction=0.5).count(1)


def test_holdout_too_large_fails_before_any_work(
    sp_tokenizer: SentencePieceTokenizer, corpus_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(PreprocessError, match="size=300 holds out all 300 input lines"):
        _run(_mono(corpus_dir, sp_tokenizer), tmp_path / "ds", sp_tokenizer, Holdout(size=300))
    assert not (tmp_path / "ds").exists()
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("empty", ["valid", "train"])
def test_empty_split_fails_and_leaves_nothing(
    sp_tokenizer: SentencePieceTokenizer, tmp_path: Path, empty: str
) -> None:
    good = bible_lines("web.en", 12, start=200)
    holdout = Holdout(size=4, seed=0, keep_text=True)
    held = set(holdout.indices(12).tolist())
    lines = ["" if (i in held) == (empty == "valid") else line for i, line in enumerate(good)]
    (tmp_path / "t.txt").write_text("\n".join(lines) + "\n")
    column = [Column(path=tmp_path / "t.txt", encoder=sp_tokenizer.create_encoder())]
    with pytest.raises(PreprocessError, match=f"The {empty} split would be empty"):
        _run(column, tmp_path / "ds", sp_tokenizer, holdout)
    assert not (tmp_path / "ds").exists()
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("exc", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_failure_mid_run_with_holdout_leaves_no_output(
    sp_tokenizer: SentencePieceTokenizer, corpus_dir: Path, tmp_path: Path, exc: BaseException
) -> None:
    encoder = _FailingEncoder(sp_tokenizer.create_encoder(), exc)
    with pytest.raises(type(exc)):
        _run(
            [Column(path=corpus_dir / "web.en", encoder=encoder)],
            tmp_path / "ds",
            sp_tokenizer,
            Holdout(size=100, keep_text=True),
        )
    assert encoder.calls >= 3
    assert not (tmp_path / "ds").exists()
    assert _leftovers(tmp_path) == []


def test_killed_run_with_holdout_leaves_no_output(
    trained, sp_tokenizer: SentencePieceTokenizer, corpus_dir: Path, tmp_path: Path
) -> None:
    assert "holdout=Holdout(size=50, keep_text=True)" in _KILLED_HOLDOUT_CHILD
    output = tmp_path / "ds"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    args = [str(trained.model_path), str(corpus_dir / "web.en"), str(output)]
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_HOLDOUT_CHILD, *args], stdout=subprocess.PIPE, env=env
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"started"
        (leftover,) = _leftovers(tmp_path)
        # Both splits and the text are being written inside the one hidden directory.
        assert sorted(p.name for p in (tmp_path / leftover).iterdir()) == ["train", "valid"]
        assert (tmp_path / leftover / "valid" / "text.txt").exists()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
    assert not output.exists()
    _run(_mono(corpus_dir, sp_tokenizer), output, sp_tokenizer, Holdout(size=50))
    assert _leftovers(tmp_path) == []
    assert len(read_token_dataset(output / "valid")) == 50


def test_without_holdout_the_layout_is_unchanged(
    sp_tokenizer: SentencePieceTokenizer, corpus_dir: Path, tmp_path: Path
) -> None:
    columns = _parallel((corpus_dir / "train.en", corpus_dir / "train.es"), sp_tokenizer)
    result = _run(columns, tmp_path / "par", sp_tokenizer, None)
    names = sorted(p.name for p in (tmp_path / "par").iterdir())
    assert names == ["manifest.json", "source", "target"]
    assert "splits" not in result.manifest
    assert "holdout" not in result.manifest
    assert result.splits == {}


@pytest.fixture
def _isolated_assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import seqkit

    monkeypatch.setenv("SEQKIT_USER_ASSET_DIR", str(tmp_path / "user-cards"))
    monkeypatch.setenv("SEQKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(seqkit, "_container", None)


@pytest.mark.usefixtures("_isolated_assets")
def test_cli_valid_size_seed_and_text(
    trained, corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ds"
    status = main(
        [
            "data", "preprocess", "--source", str(corpus_dir / "train.en"),
            "--target", str(corpus_dir / "train.es"), "--source-lang", "en", "--target-lang", "es",
            "--tokenizer", str(trained.card_path), "--output", str(out), "--no-progress",
            "--valid-size", "16", "--seed", "4", "--keep-valid-text",
        ]
    )  # fmt: skip
    assert status == 0
    printed = capsys.readouterr().out
    assert "valid: kept 16 of 16 lines" in printed
    assert "train: kept 384 of 384 lines" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["holdout"]["seed"] == 4
    held = Holdout(size=16, seed=4).indices(400).tolist()
    es = bible_lines("kjv-rv1909.es", 400)
    assert (out / "valid" / "target.txt").read_text().splitlines() == [es[i] for i in held]
    assert len(read_token_dataset(out / "valid" / "source")) == 16

    status = main(
        ["data", "preprocess", str(corpus_dir / "web.en"), "--tokenizer", str(trained.card_path),
         "--output", str(tmp_path / "lm"), "--no-progress", "--valid-fraction", "0.05"]
    )  # fmt: skip
    assert status == 0
    assert len(read_token_dataset(tmp_path / "lm" / "valid")) == 15
    assert not (tmp_path / "lm" / "valid" / "text.txt").exists()

    status = main(
        ["data", "preprocess", str(corpus_dir / "web.en"), "--tokenizer", "byte",
         "--output", str(tmp_path / "x"), "--no-progress", "--keep-valid-text"]
    )  # fmt: skip
    assert status == 2
    assert "--keep-valid-text needs --valid-size" in capsys.readouterr().err
    status = main(
        ["data", "preprocess", str(corpus_dir / "web.en"), "--tokenizer", "byte",
         "--output", str(tmp_path / "x"), "--no-progress", "--valid-size", "300"]
    )  # fmt: skip
    assert status == 2
    assert "no training data" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_cli_help_documents_the_holdout(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["data", "preprocess", "--help"])
    text = capsys.readouterr().out
    for flag in ("--valid-size", "--valid-fraction", "--seed", "--keep-valid-text"):
        assert flag in text
    with pytest.raises(SystemExit):
        main(["data", "preprocess", "x", "--tokenizer", "byte", "--output", "y",
              "--valid-size", "3", "--valid-fraction", "0.1"])  # fmt: skip
    assert "not allowed with argument" in capsys.readouterr().err
