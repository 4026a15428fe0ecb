"""The recipes' data path end to end: mixtures, token budgets, ready token datasets, and
bad input that must fail with a clear error naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seqkit.cli.main import main
from seqkit.data import TokenDataset, write_tokens

from .conftest import BIBLE

pytestmark = pytest.mark.integration


def _lm(out: Path, *config: str) -> int:
    args = ["lm", "train", str(out), "--preset", "tiny", "--config", "train.progress_bar=false"]
    for item in config:
        args += ["--config", item]
    return main(args)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    out = tmp_path_factory.mktemp("data_path") / "first"
    assert _lm(out, f"data.train_files=[{corpus}]", "train.max_steps=4") == 0
    return out


def test_a_weighted_mixture_of_text_and_a_token_dataset(
    first_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.en"
    lines = (BIBLE / "web.en").read_text(encoding="utf-8").splitlines()[1000:1300]
    other.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ready = first_run / "data" / "train_0" / "train"
    out = tmp_path / "mix"
    code = _lm(
        out,
        f"tokenizer.name={first_run / 'tokenizer' / 'spm.model'}",
        f"data.train_datasets=[{{path: {ready}, weight: 3}}, {{path: {other}, weight: 1}}]",
        "data.valid_fraction=0.05",
        "train.max_steps=6",
    )
    assert code == 0
    layout = json.loads((out / "data" / "ready.json").read_text())
    assert layout["train"][0] == str(ready.resolve())  # used as it is, not re-tokenized
    assert layout["train"][1] == "train_1/train"
    assert layout["valid"] == ["train_1/valid"]  # the hold-out comes from the text only
    assert "Stopped at step 6" in capsys.readouterr().out
    # A second run in the same directory finds the prepared data (no re-tokenization).
    stamp = (out / "data" / "ready.json").stat().st_mtime_ns
    assert _lm(out, f"tokenizer.name={first_run / 'tokenizer' / 'spm.model'}",
               f"data.train_datasets=[{{path: {ready}, weight: 3}}, {{path: {other}, weight: 1}}]",
               "train.max_steps=8") == 0  # fmt: skip
    assert (out / "data" / "ready.json").stat().st_mtime_ns == stamp
    assert "Stopped at step 8" in capsys.readouterr().out


def test_mt_token_budget_mixture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    en = (BIBLE / "kjv-rv1909.en").read_text(encoding="utf-8").splitlines()
    es = (BIBLE / "kjv-rv1909.es").read_text(encoding="utf-8").splitlines()
    paths = {}
    for name, (a, b) in {"x": (0, 300), "y": (5000, 5200)}.items():
        for lang, lines in (("en", en), ("es", es)):
            path = tmp_path / f"{name}.{lang}"
            path.write_text("\n".join(lines[a:b]) + "\n", encoding="utf-8")
            paths[name, lang] = path
    out = tmp_path / "mt"
    entries = ", ".join(
        f"{{source: {paths[n, 'en']}, target: {paths[n, 'es']}, weight: {w}}}"
        for n, w in (("x", 2), ("y", 1))
    )
    code = main([
        "mt", "train", str(out), "--preset", "tiny",
        "--config", f"data.train_datasets=[{entries}]",
        "--config", "data.max_pairs=null", "--config", "data.valid_size=20",
        "--config", "data.max_seq_len=96", "--config", "train.max_num_tokens=1200",
        "--config", "train.max_steps=12",
        "--config", "train.progress_bar=false", "--config", "bleu.num_sentences=4",
    ])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    efficiency = float(printed.split("Padding efficiency of the training batches: ")[1][:5])
    assert efficiency > 0.7
    assert (out / "data" / "train_0" / "valid" / "source.txt").is_file()
    valid = TokenDataset.open(out / "data" / "train_0" / "valid")
    held = (out / "data" / "train_0" / "valid" / "target.txt").read_text().splitlines()
    assert 0 < valid.num_documents == len(held) <= 20


def test_missing_dataset_names_the_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.txt"
    assert _lm(tmp_path / "out", f"data.train_files=[{missing}]") != 0
    err = capsys.readouterr().err
    assert str(missing) in err
    assert "Traceback" not in err


def test_dataset_of_another_tokenizer_is_refused(
    first_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "foreign"
    write_tokens(foreign, [np.array([5, 6, 60000])])
    code = _lm(
        tmp_path / "out",
        f"tokenizer.name={first_run / 'tokenizer' / 'spm.model'}",
        f"data.train_files=[{foreign}]",
    )
    assert code != 0
    err = capsys.readouterr().err
    assert str(foreign) in err
    assert "another tokenizer" in err


def test_dataset_smaller_than_a_batch_per_rank(
    first_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = tmp_path / "small"
    write_tokens(small, [np.array([5, 6, 7, 8, 9])])
    code = _lm(
        tmp_path / "out",
        f"tokenizer.name={first_run / 'tokenizer' / 'spm.model'}",
        f"data.train_files=[{small}]",
    )
    assert code != 0
    err = capsys.readouterr().err
    assert "training text rows fill 0 batch(es)" in err
    assert "lower data.max_seq_len" in err
    assert "Traceback" not in err


def test_interrupted_preparation_starts_over(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    # A run killed after writing the training split but before the rest: no ready.json.
    (out / "data" / "train_0" / "train").mkdir(parents=True)
    (out / "data" / "train_0" / "train" / "junk.bin").write_bytes(b"partial")
    assert _lm(out, f"data.train_files=[{corpus}]", "train.max_steps=4") == 0
    layout = json.loads((out / "data" / "ready.json").read_text())
    assert layout["valid"] == ["train_0/valid"]  # validation is there, not silently gone
    assert not (out / "data" / "train_0" / "train" / "junk.bin").exists()
    capsys.readouterr()
