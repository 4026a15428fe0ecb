"""Configuration: dataclass <-> YAML structuring, ``a.b=c`` overrides, presets, safe YAML."""

from __future__ import annotations

from seqkit.config.docstrings import field_docstrings
from seqkit.config.dump import dump_config
from seqkit.config.errors import (
    ConfigError,
    ConfigFileError,
    ConfigOverrideError,
    ConfigTypeError,
    UnknownConfigKeyError,
    UnknownPresetError,
)
from seqkit.config.loader import (
    load_config,
    load_config_data,
    merge_config_data,
    read_yaml,
    resolve_config,
)
from seqkit.config.overrides import ConfigOverride, apply_overrides, parse_override
from seqkit.config.presets import Preset, PresetRegistry
from seqkit.config.structure import all_keys, structure, type_name, unstructure

__all__ = [
    "ConfigError",
    "ConfigFileError",
    "ConfigOverride",
    "ConfigOverrideError",
    "ConfigTypeError",
    "Preset",
    "PresetRegistry",
    "UnknownConfigKeyError",
    "UnknownPresetError",
    "all_keys",
    "apply_overrides",
    "dump_config",
    "field_docstrings",
    "load_config",
    "load_config_data",
    "merge_config_data",
    "parse_override",
    "read_yaml",
    "resolve_config",
    "structure",
    "type_name",
    "unstructure",
]
