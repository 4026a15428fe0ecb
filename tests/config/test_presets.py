from __future__ import annotations

import pytest

from seqkit.config import ConfigError, PresetRegistry, UnknownPresetError
from tests.config.conftest import ToyConfig


def _registry() -> PresetRegistry[ToyConfig]:
    registry = PresetRegistry("toy.train", ToyConfig, default="small")
    registry.register("small", lambda: ToyConfig(seed=1), "a small run")
    registry.register("large", lambda: ToyConfig(seed=2, max_steps=100), "a large run")
    return registry


def test_presets_create_fresh_configs() -> None:
    registry = _registry()
    first = registry.create()
    first.seed = 99
    assert registry.create().seed == 1
    assert registry.create("large").max_steps == 100
    assert registry.names() == ["small", "large"]


def test_describe_marks_default() -> None:
    text = _registry().describe()
    assert "small  a small run (default)" in text
    assert "large  a large run" in text


def test_unknown_preset_suggests() -> None:
    with pytest.raises(UnknownPresetError, match="Did you mean 'large'"):
        _registry().create("lrge")


def test_preset_of_wrong_type_fails() -> None:
    registry = _registry()
    registry.register("broken", lambda: "nope", "wrong")  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigError, match="built a str"):
        registry.create("broken")
