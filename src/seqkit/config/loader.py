"""Build a config from a preset, YAML config files and ``KEY=VALUE`` overrides."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from seqkit.config.errors import ConfigFileError, ConfigTypeError, UnknownConfigKeyError
from seqkit.config.overrides import apply_overrides
from seqkit.config.safe_yaml import YamlDocument, YamlError, load_yaml
from seqkit.config.structure import structure, unstructure

ConfigT = TypeVar("ConfigT")


def read_yaml(path: Path) -> YamlDocument:
    """Read one YAML document safely; duplicate keys are rejected with their line."""
    try:
        return load_yaml(path)
    except YamlError as ex:
        raise ConfigFileError(f"Config file error: {ex}") from ex


def load_config_data(path: Path) -> dict[str, Any]:
    """Read a config file that holds a mapping (an empty file is an empty mapping)."""
    return _load_mapping(path)[1]


def _load_mapping(path: Path) -> tuple[YamlDocument, dict[str, Any]]:
    doc = read_yaml(path)
    if doc.data is None:
        return doc, {}
    if not isinstance(doc.data, dict):
        raise ConfigFileError(
            f"Config file {path} must hold a YAML mapping of config keys, not a "
            f"{type(doc.data).__name__}."
        )
    return doc, doc.data


def merge_config_data(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``update`` into a copy of ``base``: mappings merge, anything else replaces."""
    result = copy.deepcopy(dict(base))
    for key, value in update.items():
        current = result.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            result[key] = merge_config_data(current, value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def load_config(path: Path, config_type: type[ConfigT]) -> ConfigT:
    """Read a full config (e.g. one written by ``--dump-config``) from ``path``."""
    doc, data = _load_mapping(path)
    _check(data, config_type, doc)
    return structure(data, config_type)


def resolve_config(
    base: ConfigT,
    *,
    config_files: Sequence[Path] = (),
    overrides: Sequence[str] = (),
) -> ConfigT:
    """Apply ``config_files`` (in order, deep-merged) then ``overrides`` on top of ``base``.

    Each file is checked as it is merged, so an error names the file that caused it.
    """
    config_type = type(base)
    data = unstructure(base)
    assert isinstance(data, dict)
    for path in config_files:
        doc, update = _load_mapping(path)
        data = merge_config_data(data, update)
        _check(data, config_type, doc)
    data = apply_overrides(data, list(overrides), config_type)
    _check(data, config_type, "the --config overrides" if overrides else None)
    return structure(data, config_type)


def _check(
    data: dict[str, Any], config_type: type[object], source: YamlDocument | str | None
) -> None:
    """Structure ``data`` to validate it; errors say which file and line caused them."""
    try:
        structure(data, config_type)
    except (UnknownConfigKeyError, ConfigTypeError) as ex:
        if source is None:
            raise
        if isinstance(source, YamlDocument):
            keys = [int(p) if p.isdigit() else p for p in ex.key.split(".") if p]
            where = f" (at {source.where(*keys)})"
        else:
            where = f" (from {source})"
        ex.args = (f"{ex}{where}", *ex.args[1:])
        raise
