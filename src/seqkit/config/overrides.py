"""``a.b.c=value`` overrides, typed by the config dataclass, with YAML syntax for values."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from seqkit.config.errors import ConfigOverrideError
from seqkit.config.structure import dataclass_in, field_types, unknown_key_error


@dataclass(frozen=True, kw_only=True)
class ConfigOverride:
    """One parsed ``--config KEY=VALUE``."""

    key: str
    """The dotted key, e.g. ``optimizer.lr``."""

    text: str
    """The value exactly as written after ``=``."""


def parse_override(text: str) -> ConfigOverride:
    """Split ``"a.b.c=value"``; the value is kept as text until its field type is known."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigOverrideError(
            f"Config override {text!r} is not of the form KEY=VALUE (e.g. "
            f"--config optimizer.lr=3e-4 or --config 'model.dropout_p=0.1')."
        )
    return ConfigOverride(key=key, text=value)


def _is_text_type(tp: Any) -> bool:
    return tp is str or (isinstance(tp, type) and issubclass(tp, Path))


def _parse_value(override: ConfigOverride, tp: Any) -> object:
    # A str field takes the text verbatim, so `name=1e3` or `name=yes` stay strings.
    if _is_text_type(tp):
        return override.text
    try:
        value = yaml.safe_load(override.text) if override.text.strip() else None
    except yaml.YAMLError as ex:
        raise ConfigOverrideError(
            f"The value of config override '{override.key}' is not valid YAML: "
            f"{override.text!r} ({ex.__class__.__name__}). Quote it, e.g. "
            f"--config '{override.key}=\"...\"'."
        ) from ex
    if tp is Any and isinstance(value, str):
        # Below an untyped mapping there is no field type to convert with, and YAML 1.1
        # reads `5e-3` (no dot) as text; a number was meant.
        return number_or_text(value)
    return value


def number_or_text(text: str) -> object:
    """``text`` as an int or float if it spells one (``5e-3``, ``1_000``), else unchanged."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def apply_override(data: dict[str, Any], override: ConfigOverride, cls: type[object]) -> None:
    """Set ``override`` in the plain config ``data`` of dataclass ``cls``, in place.

    The key must name a field (unknown keys fail with the closest valid key); the value is
    parsed as YAML and checked later, when ``data`` is structured into ``cls``.
    """
    parts = override.key.split(".")
    node = data
    current: type[object] | None = cls
    for depth, part in enumerate(parts):
        prefix = ".".join(parts[:depth])
        is_last = depth == len(parts) - 1
        if current is None:
            # Below a plain dict field (e.g. model_config overrides): no schema to check.
            if is_last:
                node[part] = _parse_value(override, Any)
            else:
                node = _child_dict(node, part, override)
            continue
        types_ = field_types(current)
        if part not in types_:
            raise unknown_key_error(current, prefix, part, cls)
        tp = types_[part]
        if is_last:
            node[part] = _parse_value(override, tp)
            return
        inner = dataclass_in(tp)
        if inner is None and not _is_mapping_type(tp):
            raise ConfigOverrideError(
                f"Config key '{'.'.join(parts[: depth + 1])}' is a value, not a section, so "
                f"'{override.key}' does not exist; set '{'.'.join(parts[: depth + 1])}=...'."
            )
        node = _child_dict(node, part, override)
        current = inner


def _is_mapping_type(tp: Any) -> bool:
    origin = getattr(tp, "__origin__", None)
    return origin is dict or tp is dict


def _child_dict(node: dict[str, Any], part: str, override: ConfigOverride) -> dict[str, Any]:
    child = node.get(part)
    if child is None:
        child = {}
        node[part] = child
    if not isinstance(child, dict):
        raise ConfigOverrideError(
            f"Cannot set '{override.key}': '{part}' holds {child!r}, not a section."
        )
    return child


def apply_overrides(
    data: dict[str, Any], overrides: list[str], cls: type[object]
) -> dict[str, Any]:
    """Return a copy of ``data`` with every ``KEY=VALUE`` text in ``overrides`` applied."""
    result = copy.deepcopy(data)
    for text in overrides:
        apply_override(result, parse_override(text), cls)
    return result
