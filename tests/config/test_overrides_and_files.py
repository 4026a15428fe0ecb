from __future__ import annotations

from pathlib import Path

import pytest

from seqkit.config import (
    ConfigFileError,
    ConfigOverrideError,
    ConfigTypeError,
    UnknownConfigKeyError,
    parse_override,
    resolve_config,
)
from tests.config.conftest import ToyConfig


def test_overrides_are_typed_by_field() -> None:
    config = resolve_config(
        ToyConfig(),
        overrides=[
            "optimizer.lr=1e-3",
            "optimizer.name=1e3",  # a str field keeps the text verbatim
            "data.paths=[a.txt, b.txt]",
            "max_steps=null",
            "verbose=true",
            "tag=12",
            "model_overrides.dim=64",
            "data.valid_path=valid.txt",
        ],
    )
    assert config.optimizer.lr == 1e-3
    assert config.optimizer.name == "1e3"
    assert config.data.paths == [Path("a.txt"), Path("b.txt")]
    assert config.max_steps is None
    assert config.verbose is True
    assert config.tag == 12
    assert config.model_overrides == {"dim": 64}
    assert config.data.valid_path == Path("valid.txt")


def test_override_value_with_equals_sign() -> None:
    override = parse_override("optimizer.name=a=b")
    assert (override.key, override.text) == ("optimizer.name", "a=b")


@pytest.mark.parametrize("text", ["lr", "=3", "optimizer..lr=3", ".lr=1"])
def test_malformed_override(text: str) -> None:
    with pytest.raises(ConfigOverrideError, match="KEY=VALUE"):
        resolve_config(ToyConfig(), overrides=[text])


def test_unknown_override_key_suggests() -> None:
    with pytest.raises(UnknownConfigKeyError, match=r"Did you mean 'optimizer\.lr'\?"):
        resolve_config(ToyConfig(), overrides=["optimizer.learning_rat=3"])
    with pytest.raises(UnknownConfigKeyError, match="Did you mean 'seed'"):
        resolve_config(ToyConfig(), overrides=["sed=3"])


def test_override_below_a_value_fails() -> None:
    with pytest.raises(ConfigOverrideError, match="'seed' is a value, not a section"):
        resolve_config(ToyConfig(), overrides=["seed.x=3"])


def test_override_type_error_names_key() -> None:
    with pytest.raises(ConfigTypeError, match=r"'optimizer\.lr' must be float") as info:
        resolve_config(ToyConfig(), overrides=["optimizer.lr=fast"])
    assert "--config overrides" in str(info.value)


def test_config_files_merge_in_order_then_overrides(tmp_path: Path) -> None:
    first = tmp_path / "a.yaml"
    first.write_text("optimizer:\n  lr: 0.1\n  name: sgd\nseed: 4\n")
    second = tmp_path / "b.yaml"
    second.write_text("optimizer:\n  lr: 0.2\n")
    config = resolve_config(ToyConfig(), config_files=[first, second], overrides=["seed=9"])
    assert config.optimizer.lr == 0.2
    assert config.optimizer.name == "sgd"  # kept from the first file: sections deep-merge
    assert config.seed == 9


def test_config_file_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("seed: 1\noptimizer:\n  name: adamw\n  lrr: 0.1\n")
    with pytest.raises(UnknownConfigKeyError) as info:
        resolve_config(ToyConfig(), config_files=[path])
    assert f"{path}:4" in str(info.value)
    path.write_text("seed: 1\noptimizer:\n  lr: quick\n")
    with pytest.raises(ConfigTypeError, match=f"{path}:3"):
        resolve_config(ToyConfig(), config_files=[path])


def test_config_file_duplicate_key_and_bad_shape(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("seed: 1\nseed: 2\n")
    with pytest.raises(ConfigFileError, match=r"dup\.yaml"):
        resolve_config(ToyConfig(), config_files=[path])
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigFileError, match="mapping"):
        resolve_config(ToyConfig(), config_files=[path])
    with pytest.raises(ConfigFileError, match=r"missing\.yaml"):
        resolve_config(ToyConfig(), config_files=[tmp_path / "missing.yaml"])
