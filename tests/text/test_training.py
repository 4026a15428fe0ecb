from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from seqkit.text import SentencePieceTokenizer, TokenizerTrainingError, train_sentencepiece
from seqkit.text.training import sha256_of

from .conftest import bible_lines


def test_card_describes_the_model(trained) -> None:
    card = yaml.safe_load(trained.card_path.read_text())
    assert card["name"] == "bible-enes"
    assert card["tokenizer"] == trained.model_path.name
    assert card["tokenizer_family"] == "sentencepiece"
    assert card["tokenizer_sha256"] == sha256_of(trained.model_path) == trained.sha256
    assert card["langs"] == ["en", "es"]
    assert trained.report.lines_read == 800
    assert trained.report.lines_skipped == 0


def test_training_is_deterministic_and_bpe_works(tmp_path: Path, corpus_dir: Path) -> None:
    shas = [
        train_sentencepiece(
            [corpus_dir / "web.en"],
            output_dir=tmp_path / f"run{i}",
            vocab_size=300,
            model_type="bpe",
            num_threads=1,
        ).sha256
        for i in range(2)
    ]
    assert shas[0] == shas[1]
    tokenizer = SentencePieceTokenizer.from_file(tmp_path / "run0" / "bpe300.model")
    text = bible_lines("web.en", 1, start=2000)[0]
    assert tokenizer.create_decoder()(tokenizer.create_encoder()(text)) == text


def test_bad_lines_are_counted_not_trained_on(tmp_path: Path) -> None:
    corpus = tmp_path / "dirty.txt"
    good = bible_lines("web.en", 200)
    corpus.write_bytes(
        "\n".join(good[:100]).encode()
        + b"\n\xff\xfe broken\n\n   \n"
        + ("x" * 5000).encode()
        + b"\n"
        + "\n".join(good[100:]).encode()
    )
    result = train_sentencepiece([corpus], output_dir=tmp_path / "out", vocab_size=300)
    assert result.report.lines_read == 204
    assert result.report.skipped == {"invalid_utf8": 1, "empty": 2, "too_long": 1}
    assert result.report.examples["invalid_utf8"] == [f"{corpus}:101"]


def test_training_errors_name_the_fix(tmp_path: Path) -> None:
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("a b c\n")
    with pytest.raises(TokenizerTrainingError, match="too small for a 5000-piece vocabulary"):
        train_sentencepiece([tiny], output_dir=tmp_path / "o", vocab_size=5000)
    blank = tmp_path / "blank.txt"
    blank.write_text("\n \n\n")
    with pytest.raises(TokenizerTrainingError, match="no usable line") as info:
        train_sentencepiece([blank], output_dir=tmp_path / "o", vocab_size=50)
    assert "INTERNAL" not in str(info.value)
    with pytest.raises(TokenizerTrainingError, match="does not exist"):
        train_sentencepiece([tmp_path / "nope.txt"], output_dir=tmp_path / "o", vocab_size=50)
    assert not (tmp_path / "o").exists()
