from __future__ import annotations

from pathlib import Path

import pytest

from seqkit.config import (
    ConfigTypeError,
    UnknownConfigKeyError,
    structure,
    unstructure,
)
from tests.config.conftest import DataSection, OptimizerSection, Precision, ToyConfig


def test_structure_builds_nested_dataclasses_and_converts_types() -> None:
    config = structure(
        {
            "optimizer": {"lr": 1, "betas": [0.8, 0.9]},
            "data": {"paths": ["a.txt", "b.txt"], "valid_path": "v.txt"},
            "precision": "bf16",
            "dtype": "bfloat16",
            "max_steps": "1_000",
            "tag": 7,
        },
        ToyConfig,
    )
    assert config.optimizer == OptimizerSection(lr=1.0, betas=(0.8, 0.9))
    assert isinstance(config.optimizer.lr, float)
    assert config.data == DataSection(
        paths=[Path("a.txt"), Path("b.txt")], valid_path=Path("v.txt")
    )
    assert config.precision is Precision.BF16
    assert config.max_steps == 1000
    assert config.tag == 7


def test_float_written_as_yaml_text_is_accepted() -> None:
    # YAML 1.1 reads `3e-4` (no dot) as a string.
    assert structure({"optimizer": {"lr": "3e-4"}}, ToyConfig).optimizer.lr == 3e-4


def test_unstructure_round_trips() -> None:
    config = ToyConfig(
        data=DataSection(paths=[Path("x")], valid_path=None),
        precision=Precision.BF16,
        model_overrides={"dim": 64},
    )
    plain = unstructure(config)
    assert plain["precision"] == "bf16"
    assert plain["data"]["paths"] == ["x"]
    assert structure(plain, ToyConfig) == config


def test_unknown_key_suggests_closest() -> None:
    with pytest.raises(UnknownConfigKeyError) as info:
        structure({"optimizer": {"lrr": 0.1}}, ToyConfig)
    assert info.value.key == "optimizer.lrr"
    assert info.value.suggestion == "optimizer.lr"
    assert "Did you mean 'optimizer.lr'?" in str(info.value)


def test_key_in_wrong_section_is_found_elsewhere() -> None:
    with pytest.raises(UnknownConfigKeyError) as info:
        structure({"max_seq_len": 3}, ToyConfig)
    assert info.value.suggestion == "data.max_seq_len"


@pytest.mark.parametrize(
    ("data", "key", "expected"),
    [
        ({"seed": "two"}, "seed", "int"),
        ({"seed": True}, "seed", "int"),
        ({"verbose": "yes"}, "verbose", "bool"),
        ({"dtype": "float16"}, "dtype", "'float32' | 'bfloat16'"),
        ({"precision": "fp8"}, "precision", "'fp32' | 'bf16'"),
        ({"optimizer": {"betas": [0.9]}}, "optimizer.betas", "tuple[float, float]"),
        ({"data": {"paths": "a.txt"}}, "data.paths", "list[path]"),
        ({"data": {"paths": [3]}}, "data.paths.0", "path"),
        ({"optimizer": 3}, "optimizer", "OptimizerSection"),
        ({"max_steps": 1.5}, "max_steps", "int | null"),
        ({"optimizer": {"name": 5}}, "optimizer.name", "str"),
    ],
)
def test_type_errors_name_key_and_expected_type(data: dict, key: str, expected: str) -> None:
    with pytest.raises(ConfigTypeError) as info:
        structure(data, ToyConfig)
    assert info.value.key == key
    assert info.value.expected == expected
    assert f"'{key}'" in str(info.value)


def test_post_init_validation_is_reported_as_config_error() -> None:
    with pytest.raises(ConfigTypeError, match="seed must be >= 0"):
        structure({"seed": -1}, ToyConfig)
