"""Write a config as commented YAML: each field preceded by its attribute docstring."""

from __future__ import annotations

import dataclasses
import textwrap
from typing import Any

import yaml

from seqkit.config.docstrings import field_docstrings
from seqkit.config.structure import field_types, type_name, unstructure

_COMMENT_WIDTH = 88


def dump_config(config: object, *, comments: bool = True) -> str:
    """Render dataclass ``config`` as YAML that :func:`seqkit.config.load_config` reads back.

    With ``comments``, every field is preceded by ``# <docstring> (type)`` lines, so the
    dump doubles as the reference of every option and its current value.
    """
    if not (dataclasses.is_dataclass(config) and not isinstance(config, type)):
        raise TypeError(f"dump_config() needs a dataclass instance, not {type(config).__name__}")
    lines: list[str] = []
    _emit(config, 0, lines, comments)
    return "\n".join(lines) + "\n"


def _scalar(value: object) -> str:
    # Dumping inside a one-item flow list gives YAML's quoting rules without the
    # document-end marker ("...") that a bare scalar dump carries.
    text = yaml.safe_dump([value], default_flow_style=True, width=10_000, sort_keys=False)
    return text.strip()[1:-1]


def _emit(config: Any, indent: int, lines: list[str], comments: bool) -> None:
    pad = "  " * indent
    docs = field_docstrings(type(config)) if comments else {}
    types_ = field_types(type(config))
    for index, (name, tp) in enumerate(types_.items()):
        value = getattr(config, name)
        if comments:
            if index > 0 and indent == 0:
                lines.append("")
            doc = " ".join(docs.get(name, "").split())
            note = f"{doc} ({type_name(tp)})" if doc else f"({type_name(tp)})"
            for chunk in textwrap.wrap(note, width=max(_COMMENT_WIDTH - len(pad) - 2, 40)):
                lines.append(f"{pad}# {chunk}")
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            lines.append(f"{pad}{name}:")
            _emit(value, indent + 1, lines, comments)
            continue
        plain = unstructure(value)
        if isinstance(plain, dict) and plain:
            block = yaml.safe_dump(plain, default_flow_style=False, sort_keys=False)
            lines.append(f"{pad}{name}:")
            lines.extend(f"{pad}  {line}" for line in block.rstrip("\n").splitlines())
        else:
            lines.append(f"{pad}{name}: {_scalar(plain)}")
