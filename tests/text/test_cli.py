from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from seqkit.cli.main import main

from .conftest import bible_lines, read_token_dataset


@pytest.fixture(autouse=True)
def _isolated_assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import seqkit

    monkeypatch.setenv("SEQKIT_USER_ASSET_DIR", str(tmp_path / "user-cards"))
    monkeypatch.setenv("SEQKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(seqkit, "_container", None)


def test_train_tokenizer_then_preprocess_parallel(
    tmp_path: Path, corpus_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tok"
    status = main(
        [
            "text", "train-tokenizer", str(corpus_dir / "train.en"), str(corpus_dir / "train.es"),
            "--vocab-size", "300", "--model-type", "bpe", "--output", str(out),
            "--name", "enes", "--lang", "en", "--lang", "es", "--threads", "1",
        ]
    )  # fmt: skip
    assert status == 0
    card = yaml.safe_load((out / "enes.yaml").read_text())
    assert card["tokenizer"] == "enes.model"
    assert "kept 800 of 800 lines" in capsys.readouterr().out

    status = main(
        [
            "data", "preprocess", "--source", str(corpus_dir / "train.en"),
            "--target", str(corpus_dir / "train.es"), "--source-lang", "en", "--target-lang", "es",
            "--tokenizer", str(out / "enes.yaml"), "--output", str(tmp_path / "ds"),
            "--no-progress",
        ]
    )  # fmt: skip
    assert status == 0
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["tokenizer"]["card"] == "enes"
    assert manifest["tokenizer"]["sha256"] == card["tokenizer_sha256"]
    assert manifest["num_documents"] == 400
    source = read_token_dataset(tmp_path / "ds" / "source")
    assert source[0][0] == 4  # __en__ starts every source document
    assert read_token_dataset(tmp_path / "ds" / "target")[0][:2] == [1, 5]


def test_encode_decode_round_trip(trained, capsys: pytest.CaptureFixture[str]) -> None:
    text = bible_lines("kjv-rv1909.es", 1, start=77)[0]
    assert main(["text", "encode", "--tokenizer", str(trained.card_path), text]) == 0
    ids = capsys.readouterr().out.strip()
    assert ids.startswith("1 ")
    assert main(["text", "decode", "--tokenizer", str(trained.model_path), ids]) == 0
    assert capsys.readouterr().out.strip() == text


def test_user_errors_exit_2(tmp_path: Path, trained, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["text", "decode", "--tokenizer", "byte", "1 99999"]) == 2
    assert "outside the vocabulary" in capsys.readouterr().err
    status = main(["data", "preprocess", "--tokenizer", "byte", "--output", str(tmp_path / "x")])
    assert status == 2
    assert "either INPUT" in capsys.readouterr().err
    (tmp_path / "blank.txt").write_text("\n")
    status = main(
        ["data", "preprocess", str(tmp_path / "blank.txt"), "--tokenizer", "byte",
         "--output", str(tmp_path / "x"), "--no-progress"]
    )  # fmt: skip
    assert status == 2
    assert "No usable line" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
