"""A resumed run keeps its setup: changes that cannot apply are refused, naming the keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqkit.cli.main import main

pytestmark = pytest.mark.integration


def _lm(out: Path, corpus: Path, *config: str) -> int:
    args = ["lm", "train", str(out), "--preset", "tiny", "--config", "train.progress_bar=false",
            "--config", f"data.train_files=[{corpus}]"]  # fmt: skip
    for item in config:
        args += ["--config", item]
    return main(args)


def test_resume_refuses_a_changed_setup_and_accepts_more_steps(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert _lm(out, corpus, "train.max_steps=5", "train.checkpoint_every_n_steps=5") == 0
    saved = (out / "config.yaml").read_text()
    capsys.readouterr()
    assert _lm(out, corpus, "train.max_steps=8", "tokenizer.vocab_size=300") != 0
    err = capsys.readouterr().err
    assert "tokenizer.vocab_size: 200 -> 300" in err
    assert (out / "config.yaml").read_text() == saved  # untouched by the refused run
    assert _lm(out, corpus, "train.max_steps=8", "train.checkpoint_every_n_steps=5") == 0
    assert "max_steps: 8" in (out / "config.yaml").read_text()


def test_a_failed_start_does_not_poison_the_directory(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert _lm(out, corpus, "train.max_steps=3", "model.config.model_dim=-4") != 0
    capsys.readouterr()
    assert _lm(out, corpus, "train.max_steps=3") == 0


def test_changed_data_before_any_checkpoint_is_prepared_again(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert _lm(out, corpus, "train.max_steps=3", "model.config.model_dim=-4") != 0
    other = tmp_path / "other.txt"
    other.write_text(corpus.read_text(encoding="utf-8")[:5000], encoding="utf-8")
    capsys.readouterr()
    assert _lm(out, other, "train.max_steps=3") == 0
    assert "preparing the data again" in capsys.readouterr().out
