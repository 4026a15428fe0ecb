"""Turning ``{name: <registry key>, ...}`` mappings into config dataclasses."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import fields
from typing import TypeVar

from seqkit.optim.errors import OptimConfigError

C = TypeVar("C")


def config_from_dict(data: Mapping[str, object], table: Mapping[str, type[C]], what: str) -> C:
    """Build ``table[data["name"]](**rest)``; unknown names and keys fail with a did-you-mean."""
    name = data.get("name")
    if not isinstance(name, str) or name not in table:
        hint = difflib.get_close_matches(str(name), list(table), n=1)
        suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
        raise OptimConfigError(
            f"Unknown {what} name {name!r}; choose one of {sorted(table)}.{suggestion}",
            field=f"{what}.name",
        )
    kind = table[name]
    allowed = {f.name for f in fields(kind)}  # type: ignore[arg-type]
    kwargs: dict[str, object] = {}
    for key, value in data.items():
        if key == "name":
            continue
        if key not in allowed:
            hint = difflib.get_close_matches(key, sorted(allowed), n=1)
            suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
            raise OptimConfigError(
                f"Unknown key {what}.{key} for {what} {name!r}.{suggestion}",
                field=f"{what}.{key}",
            )
        kwargs[key] = tuple(value) if isinstance(value, list) else value
    return kind(**kwargs)
