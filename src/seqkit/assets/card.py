"""``AssetCard``: a resolved card (layers and ``base`` merged) with typed field access."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, final
from urllib.parse import urlsplit

from seqkit.assets.errors import AssetCardError

SUPPORTED_SCHEMES: Final = frozenset({"", "file", "http", "https"})
"""URI schemes a path field may use; ``""`` is a plain (relative or absolute) path."""


@dataclass(frozen=True, kw_only=True)
class FieldOrigin:
    """Where a field's value was written."""

    file: Path
    """The YAML file that holds the value."""

    line: int
    """The 1-based line of the field's key in :attr:`file`."""

    layer: str
    """The card source (layer) the file belongs to, e.g. ``"package"`` or ``"user"``."""

    card: str
    """The card that wrote it; differs from the requested card when inherited via ``base``."""

    root: Path
    """The directory relative paths in this value must stay inside."""

    def where(self) -> str:
        """``file:line``, for messages."""
        return f"{self.file}:{self.line}"


@final
class AssetCard:
    """A card after its layers, ``base`` chain and environment variant were merged.

    Fields are reached through :meth:`field`, whose typed accessors raise
    :class:`~seqkit.assets.AssetCardError` naming the card, field, file and line.
    """

    def __init__(
        self,
        *,
        name: str,
        fields: Mapping[str, object],
        origins: Mapping[str, FieldOrigin],
        definition: FieldOrigin,
        env: str | None = None,
        bases: tuple[str, ...] = (),
    ) -> None:
        self._name = name
        self._fields = dict(fields)
        self._origins = dict(origins)
        self._definition = definition
        self._env = env
        self._bases = bases

    @property
    def name(self) -> str:
        """The card's name, without any ``@env`` suffix."""
        return self._name

    @property
    def env(self) -> str | None:
        """The environment variant merged into this card, if any."""
        return self._env

    @property
    def bases(self) -> tuple[str, ...]:
        """The cards this one inherits from via ``base``, nearest first."""
        return self._bases

    @property
    def definition(self) -> FieldOrigin:
        """Where the card's ``name`` was written in its highest-precedence layer."""
        return self._definition

    @property
    def file(self) -> Path:
        """The file of :attr:`definition`."""
        return self._definition.file

    @property
    def kind(self) -> str:
        """``model``, ``tokenizer``, ``dataset``, or ``other``; an explicit ``kind`` field wins."""
        explicit = self._fields.get("kind")
        if isinstance(explicit, str):
            return explicit
        if "model_family" in self._fields or "checkpoint" in self._fields:
            return "model"
        if "tokenizer_family" in self._fields or "tokenizer" in self._fields:
            return "tokenizer"
        if "dataset" in self._fields:
            return "dataset"
        return "other"

    def field_names(self) -> list[str]:
        """Every field of the card (``name`` and ``base`` excluded), sorted."""
        return sorted(self._fields)

    def field(self, name: str) -> AssetCardField:
        """The field ``name``; it need not exist (see :meth:`AssetCardField.exists`)."""
        return AssetCardField(self, name)

    def origin(self, field_name: str) -> FieldOrigin:
        """Where ``field_name`` was written, or the card's definition if it does not exist."""
        return self._origins.get(field_name, self._definition)

    def _has(self, name: str) -> bool:
        return name in self._fields

    def _value(self, name: str) -> object:
        return self._fields[name]

    def __repr__(self) -> str:
        env = f"@{self._env}" if self._env else ""
        return f"AssetCard(name={self._name + env!r}, file={str(self.file)!r})"


@final
class AssetCardField:
    """One field of an :class:`AssetCard`, with typed accessors."""

    def __init__(self, card: AssetCard, name: str) -> None:
        self._card = card
        self._name = name

    @property
    def card(self) -> AssetCard:
        """The card the field belongs to."""
        return self._card

    @property
    def name(self) -> str:
        """The field's name."""
        return self._name

    @property
    def origin(self) -> FieldOrigin:
        """Where the field was written (the card's definition if it does not exist)."""
        return self._card.origin(self._name)

    def exists(self) -> bool:
        """Whether the card (or one of its bases) sets the field."""
        return self._card._has(self._name)

    def error(self, message: str) -> AssetCardError:
        """An :class:`AssetCardError` about this field, located at its file and line."""
        origin = self.origin
        return AssetCardError(
            message,
            card=self._card.name,
            field=self._name,
            source=str(origin.file),
            line=origin.line,
        )

    def value(self) -> object:
        """The raw value; raises if the field does not exist."""
        if not self.exists():
            raise self.error(
                f"the field is missing; add '{self._name}: ...' to the card or one of its bases"
            )
        return self._card._value(self._name)

    def _typed(self, kind: type[object] | tuple[type[object], ...], label: str) -> object:
        value = self.value()
        # bool is an int subclass; `as_int()` must not accept `true`.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.error(f"expected {label}, got a boolean ({value!r})")
        if not isinstance(value, kind):
            raise self.error(f"expected {label}, got {type(value).__name__} ({value!r})")
        return value

    def as_str(self) -> str:
        """The value as a non-empty string."""
        value = self._typed(str, "a string")
        assert isinstance(value, str)
        if not value:
            raise self.error("expected a non-empty string")
        return value

    def as_int(self) -> int:
        """The value as an integer."""
        value = self._typed(int, "an integer")
        assert isinstance(value, int)
        return value

    def as_float(self) -> float:
        """The value as a float (integers are accepted)."""
        value = self._typed((int, float), "a number")
        assert isinstance(value, int | float)
        return float(value)

    def as_bool(self) -> bool:
        """The value as a boolean."""
        value = self._typed(bool, "a boolean")
        assert isinstance(value, bool)
        return value

    def as_list(self) -> list[object]:
        """The value as a list (a copy)."""
        value = self._typed(list, "a list")
        assert isinstance(value, list)
        return list(value)

    def as_dict(self) -> dict[str, object]:
        """The value as a mapping with string keys (a copy)."""
        value = self._typed(dict, "a mapping")
        assert isinstance(value, dict)
        for key in value:
            if not isinstance(key, str):
                raise self.error(f"expected string keys, got {key!r}")
        return dict(value)

    def as_uri(self) -> str:
        """The value as a path or URI (plain path, ``file://``, ``http://``, ``https://``)."""
        value = self.as_str()
        scheme = urlsplit(value).scheme.lower()
        # "C:" style drive letters are not URIs; seqkit targets POSIX, so a one-letter
        # scheme is treated as a bad URI rather than a path.
        if scheme not in SUPPORTED_SCHEMES:
            raise self.error(
                f"unsupported URI scheme '{scheme}:' in {value!r}; use a path, file://, "
                "http:// or https://"
            )
        if scheme in ("http", "https") and not urlsplit(value).netloc:
            raise self.error(f"the URL {value!r} has no host")
        return value

    def as_sha256(self) -> str:
        """The value as a lower-case 64-digit hexadecimal sha256."""
        value = self.as_str().lower()
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise self.error(f"expected 64 hexadecimal digits (a sha256), got {value!r}")
        return value
