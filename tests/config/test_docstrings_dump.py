from __future__ import annotations

from pathlib import Path

import yaml

from seqkit.config import dump_config, field_docstrings, load_config
from tests.config.conftest import DataSection, Precision, ToyConfig


def test_field_docstrings_are_read_from_source() -> None:
    docs = field_docstrings(ToyConfig)
    assert docs["seed"] == "The random seed."
    assert docs["max_steps"] == "Stop after this many steps (no limit when null)."
    assert set(docs) >= {"optimizer", "data", "dtype", "precision", "tag", "verbose"}


def test_dump_has_docstring_comments_with_types() -> None:
    text = dump_config(ToyConfig())
    assert "# The peak learning rate. (float)\n  lr: 0.0003" in text
    assert "# The random seed. (int)\nseed: 2" in text
    assert "# Stop after this many steps (no limit when null). (int | null)" in text


def test_dump_is_valid_yaml_equal_to_unstructured() -> None:
    config = ToyConfig(
        data=DataSection(paths=[Path("a b.txt"), Path("yes")], valid_path=Path("v")),
        tag="007",
        precision=Precision.BF16,
        model_overrides={"dim": 8, "name": "null"},
    )
    loaded = yaml.safe_load(dump_config(config))
    assert loaded["tag"] == "007"  # quoted so it stays a string
    assert loaded["data"]["paths"] == ["a b.txt", "yes"]
    assert loaded["model_overrides"] == {"dim": 8, "name": "null"}


def test_dump_then_load_round_trip(tmp_path: Path) -> None:
    config = ToyConfig(
        data=DataSection(paths=[Path("corpus.txt")], max_seq_len=64),
        seed=5,
        dtype="bfloat16",
        max_steps=10,
        tag="2.0",
        verbose=True,
    )
    path = tmp_path / "config.yaml"
    path.write_text(dump_config(config))
    assert load_config(path, ToyConfig) == config
    path.write_text(dump_config(config, comments=False))
    assert load_config(path, ToyConfig) == config
