"""Card sources: where raw cards come from (one source is one layer of the store)."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, final

from typing_extensions import override

from seqkit.assets.errors import AssetCardError
from seqkit.config.safe_yaml import load_yaml_documents
from seqkit.errors import SeqkitError

CARD_SUFFIXES: Final = (".yaml", ".yml")

_NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+-]*(@[A-Za-z0-9][A-Za-z0-9_.-]*)?$")


@dataclass(frozen=True, kw_only=True)
class RawCard:
    """One card document as written in one file, before layers and ``base`` are merged."""

    name: str
    """The ``name`` field, possibly with an ``@env`` suffix."""

    fields: dict[str, object]
    """Every field except ``name``."""

    file: Path
    """The file holding the document."""

    line: int
    """The 1-based line of the ``name`` key."""

    field_lines: dict[str, int] = field(default_factory=dict)
    """The 1-based line of each top-level field."""

    layer: str
    """The name of the source the card came from."""

    root: Path
    """The directory relative paths of this card must resolve inside."""


def load_card_file(path: Path, *, layer: str, root: Path | None = None) -> list[RawCard]:
    """Parse every card document of the YAML file ``path``.

    ``root`` bounds relative paths (default: the file's directory). Raises
    :class:`AssetCardError` naming file and line for malformed YAML, a document that is not
    a mapping, or a card without a valid ``name``.
    """
    cards = []
    for doc in load_yaml_documents(path):
        if doc.data is None:  # an empty document, e.g. a trailing '---'
            continue
        if not isinstance(doc.data, dict):
            raise AssetCardError(
                f"a card must be a YAML mapping, got {type(doc.data).__name__}",
                source=str(path),
                line=doc.line,
            )
        data = dict(doc.data)
        name = data.pop("name", None)
        if name is None:
            raise AssetCardError(
                "the card has no 'name' field; add 'name: my-card' to it",
                source=str(path),
                line=doc.line,
            )
        if not isinstance(name, str) or not _NAME_PATTERN.match(name):
            raise AssetCardError(
                f"invalid card name {name!r}; use letters, digits and '_.:+-', "
                "optionally followed by '@env'",
                source=str(path),
                line=doc.line_of("name"),
            )
        for key in data:
            if not isinstance(key, str):
                raise AssetCardError(
                    f"field names must be strings, got {key!r}",
                    card=name,
                    source=str(path),
                    line=doc.line,
                )
        cards.append(
            RawCard(
                name=name,
                fields={str(k): v for k, v in data.items()},
                file=path,
                line=doc.line_of("name"),
                field_lines={str(k): doc.line_of(str(k)) for k in data},
                layer=layer,
                root=(root or path.parent).resolve(),
            )
        )
    return cards


class AssetCardSource(ABC):
    """A layer of asset cards. Register one keyed by its name to add a layer to the store."""

    @property
    @abstractmethod
    def name(self) -> str:
        """The layer's name, shown by ``seqkit assets list`` and ``show``."""

    @abstractmethod
    def load(self) -> list[RawCard]:
        """Every card of the layer; raises :class:`AssetCardError` for a malformed card or
        for two cards of the same name within the layer."""


@final
class DirectoryCardSource(AssetCardSource):
    """Every ``*.yaml`` / ``*.yml`` file under a directory (recursively, in sorted order).

    A directory that does not exist is an empty layer, so an unset user directory costs
    nothing.
    """

    def __init__(
        self,
        name: str,
        directory: Path | None,
        *,
        root: Path | None = None,
        exclude: Collection[str] = (),
    ) -> None:
        """``root`` bounds relative card paths (default: each card's own directory);
        ``directory=None`` makes an empty layer (e.g. an unset environment variable);
        ``exclude`` names top-level subdirectories to skip."""
        self._name = name
        self._directory = None if directory is None else Path(directory)
        self._root = root
        self._exclude = frozenset(exclude)

    @property
    @override
    def name(self) -> str:
        return self._name

    @property
    def directory(self) -> Path | None:
        """The directory scanned for cards, if any."""
        return self._directory

    @override
    def load(self) -> list[RawCard]:
        cards, errors = self.load_leniently()
        if errors:
            raise errors[0]
        return cards

    def load_leniently(self) -> tuple[list[RawCard], list[SeqkitError]]:
        """Every well-formed card, and one error per malformed file or duplicate name."""
        if self._directory is None or not self._directory.is_dir():
            return [], []
        directory = self._directory
        files = sorted(
            p
            for p in directory.rglob("*")
            if p.suffix in CARD_SUFFIXES
            and p.is_file()
            and p.relative_to(directory).parts[0] not in self._exclude
        )
        cards: list[RawCard] = []
        errors: list[SeqkitError] = []
        seen: dict[str, RawCard] = {}
        for file in files:
            try:
                loaded = load_card_file(file, layer=self._name, root=self._root)
            except SeqkitError as ex:
                errors.append(ex)
                continue
            for card in loaded:
                first = seen.get(card.name)
                if first is not None:
                    errors.append(
                        AssetCardError(
                            f"the name is defined twice in layer '{self._name}', also at "
                            f"{first.file}:{first.line}; rename or remove one of them",
                            card=card.name,
                            source=str(card.file),
                            line=card.line,
                        )
                    )
                    continue
                seen[card.name] = card
                cards.append(card)
        return cards, errors

    def __repr__(self) -> str:
        directory = None if self._directory is None else str(self._directory)
        return f"DirectoryCardSource({self._name!r}, {directory!r})"


@final
class StaticCardSource(AssetCardSource):
    """A layer of cards already in memory (used by validation and tests)."""

    def __init__(self, name: str, cards: list[RawCard]) -> None:
        self._name = name
        self._cards = list(cards)

    @property
    @override
    def name(self) -> str:
        return self._name

    @override
    def load(self) -> list[RawCard]:
        return list(self._cards)


@final
class FileCardSource(AssetCardSource):
    """The cards of one YAML file."""

    def __init__(self, name: str, file: Path, *, root: Path | None = None) -> None:
        self._name = name
        self._file = Path(file)
        self._root = root

    @property
    @override
    def name(self) -> str:
        return self._name

    @override
    def load(self) -> list[RawCard]:
        return load_card_file(self._file, layer=self._name, root=self._root)
