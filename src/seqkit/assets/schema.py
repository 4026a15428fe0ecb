"""The declared schema of each card kind and a validator that reports every problem at once."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, final
from urllib.parse import urlsplit

from seqkit.assets.card import AssetCard
from seqkit.assets.errors import AssetCardError


@dataclass(frozen=True, kw_only=True)
class FieldSpec:
    """What one known field must look like."""

    type: str
    """One of ``str``, ``uri``, ``sha256``, ``dict``, ``list``, ``bool``, ``int``."""

    required: bool = False
    """Whether a concrete card (not ``abstract: true``) of this kind must have it."""


COMMON_FIELDS: Final[Mapping[str, FieldSpec]] = {
    "kind": FieldSpec(type="str"),
    "description": FieldSpec(type="str"),
    "license": FieldSpec(type="str"),
    "abstract": FieldSpec(type="bool"),
    "tags": FieldSpec(type="list"),
}

KIND_SCHEMAS: Final[Mapping[str, Mapping[str, FieldSpec]]] = {
    "model": {
        "model_family": FieldSpec(type="str", required=True),
        "model_arch": FieldSpec(type="str"),
        "model_config": FieldSpec(type="dict"),
        "checkpoint": FieldSpec(type="uri", required=True),
        "checkpoint_sha256": FieldSpec(type="sha256"),
        "tokenizer": FieldSpec(type="str"),
        "tokenizer_sha256": FieldSpec(type="sha256"),
        "tokenizer_family": FieldSpec(type="str"),
    },
    "tokenizer": {
        # Optional: built-in families (byte, char) need no file.
        "tokenizer": FieldSpec(type="uri"),
        "tokenizer_sha256": FieldSpec(type="sha256"),
        "tokenizer_family": FieldSpec(type="str", required=True),
        "tokenizer_config": FieldSpec(type="dict"),
    },
    "dataset": {
        "dataset": FieldSpec(type="uri", required=True),
        "dataset_sha256": FieldSpec(type="sha256"),
        "dataset_format": FieldSpec(type="str"),
        "splits": FieldSpec(type="dict"),
    },
    "other": {},
}
"""Known fields per kind; any other field is free-form metadata."""

URI_FIELDS: Final = ("checkpoint", "tokenizer", "dataset")
"""Fields that always name files; any other field ``X`` with an ``X_sha256`` names one too."""

_URI: Final = FieldSpec(type="uri")

_KNOWN_FIELDS: Final = sorted(
    {*COMMON_FIELDS, *(name for schema in KIND_SCHEMAS.values() for name in schema)}
)


def file_fields(card: AssetCard) -> list[str]:
    """The fields of ``card`` that name files: :data:`URI_FIELDS` and checksummed fields."""
    names = [name for name in URI_FIELDS if card.field(name).exists()]
    for name in card.field_names():
        target = name.removesuffix("_sha256")
        if target != name and target not in names and card.field(target).exists():
            names.append(target)
    return names


@dataclass(frozen=True, kw_only=True)
class AssetCardProblem:
    """One thing wrong with a card."""

    card: str
    """The card's name."""

    field: str | None
    """The offending field, or ``None`` for the card as a whole."""

    location: str
    """``file:line`` of the field (or of the card)."""

    message: str
    """What is wrong and how to fix it."""

    def __str__(self) -> str:
        where = f"card '{self.card}'" + (f", field '{self.field}'" if self.field else "")
        return f"{self.location}: {where}: {self.message}"


@final
class AssetCardValidator:
    """Checks resolved cards against :data:`KIND_SCHEMAS`.

    ``model_families`` / ``tokenizer_families`` are the registered family names; ``None``
    (nothing registered) skips that check, so the validator never imports other components.
    """

    def __init__(
        self,
        *,
        model_families: Collection[str] | None = None,
        tokenizer_families: Collection[str] | None = None,
    ) -> None:
        self._families: dict[str, Collection[str] | None] = {
            "model_family": model_families,
            "tokenizer_family": tokenizer_families,
        }

    def validate(self, card: AssetCard) -> list[AssetCardProblem]:
        """Every problem of ``card``; an empty list when it is valid."""
        problems: list[AssetCardProblem] = []

        def report(field: str | None, message: str) -> None:
            origin = card.origin(field) if field else card.definition
            problems.append(
                AssetCardProblem(
                    card=card.name, field=field, location=origin.where(), message=message
                )
            )

        kind = card.kind
        schema = KIND_SCHEMAS.get(kind)
        if schema is None:
            report("kind", f"unknown kind {kind!r}; use one of {', '.join(sorted(KIND_SCHEMAS))}")
            return problems
        abstract = card.field("abstract").exists() and card.field("abstract").value() is True
        specs = {**COMMON_FIELDS, **schema}
        for name, spec in specs.items():
            field = card.field(name)
            if not field.exists():
                if spec.required and not abstract:
                    report(None, f"a {kind} card needs the field '{name}' (or 'abstract: true')")
                continue
            try:
                self._check_type(card, name, spec)
            except AssetCardError as ex:
                report(name, ex.reason)
                continue
            if spec.type == "uri":
                escape = _escaping_path(card, name)
                if escape is not None:
                    report(name, escape)
            known = self._families.get(name)
            if known is not None:
                value = field.as_str()
                if value not in known:
                    close = difflib.get_close_matches(value, list(known), n=3)
                    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
                    report(
                        name,
                        f"unknown {name.replace('_', ' ')} {value!r}; registered: "
                        f"{', '.join(sorted(known)) or 'none'}.{hint}",
                    )
        for name in card.field_names():
            if name not in _KNOWN_FIELDS:
                close = difflib.get_close_matches(name, _KNOWN_FIELDS, n=1, cutoff=0.85)
                if close:
                    report(name, f"unknown field; did you mean '{close[0]}'?")
                    continue
            if not name.endswith("_sha256") or name in specs:
                continue
            target = name.removesuffix("_sha256")
            if not card.field(target).exists():
                report(name, f"there is no field '{target}' to check")
                continue
            for checked, spec in ((name, FieldSpec(type="sha256")), (target, _URI)):
                try:
                    self._check_type(card, checked, spec)
                except AssetCardError as ex:
                    report(checked, ex.reason)
        return problems

    @staticmethod
    def _check_type(card: AssetCard, name: str, spec: FieldSpec) -> None:
        field = card.field(name)
        match spec.type:
            case "str":
                field.as_str()
            case "uri":
                field.as_uri()
            case "sha256":
                field.as_sha256()
            case "dict":
                field.as_dict()
            case "list":
                field.as_list()
            case "bool":
                field.as_bool()
            case "int":
                field.as_int()
            case other:
                raise AssertionError(f"unknown field type {other!r} in the schema")


def _escaping_path(card: AssetCard, name: str) -> str | None:
    value = card.field(name).as_str()
    if urlsplit(value).scheme or Path(value).is_absolute():
        return None
    origin = card.origin(name)
    path = (origin.file.parent / value).resolve()
    if path.is_relative_to(origin.root):
        return None
    return (
        f"the relative path {value!r} leaves {origin.root}; keep card paths inside the "
        "card's directory"
    )
