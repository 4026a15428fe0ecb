"""``AssetStore``: finds cards by name across layers, merging layers, ``base`` and ``@env``."""

from __future__ import annotations

import difflib
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, final

from typing_extensions import override

from seqkit.assets.card import AssetCard, FieldOrigin
from seqkit.assets.errors import AssetCardError, AssetCardNotFoundError
from seqkit.assets.source import CARD_SUFFIXES, AssetCardSource, RawCard, load_card_file

_NOT_INHERITED: Final = frozenset({"abstract"})

FILE_LAYER: Final = "file"
"""The layer name of cards read from a path given to :meth:`AssetStore.retrieve_card`."""


class AssetStore(ABC):
    """Looks up asset cards by name (or by the path of a card file)."""

    @abstractmethod
    def retrieve_card(self, name_or_path: str, *, env: str | None = None) -> AssetCard:
        """The card ``name_or_path`` with its layers, bases and ``@env`` variant merged.

        ``name_or_path`` is a card name, ``name@env``, or the path of a ``.yaml`` file
        holding one card (whose ``base`` may name any card of the store). ``env`` selects
        the variant ``name@env`` when it exists; it defaults to the store's environment
        (``SEQKIT_ASSET_ENV``).
        """

    @abstractmethod
    def retrieve_names(self) -> list[str]:
        """The names of every card, sorted, without ``@env`` variants."""

    @abstractmethod
    def retrieve_variants(self, name: str) -> list[str]:
        """The environments for which ``name@env`` exists, sorted."""

    @abstractmethod
    def layers(self) -> list[str]:
        """The layer names, lowest precedence first."""


def _is_card_path(name_or_path: str) -> bool:
    return name_or_path.endswith(CARD_SUFFIXES) or "/" in name_or_path


@final
class StandardAssetStore(AssetStore):
    """The default store over an ordered list of sources (lowest precedence first).

    A later layer overrides an earlier one field by field (a top-level field is replaced
    whole). Sources are read once, on first use.
    """

    def __init__(self, sources: Sequence[AssetCardSource], *, env: str | None = None) -> None:
        self._sources = list(sources)
        self._env = env or None
        self._index: dict[str, list[RawCard]] | None = None
        self._lock = threading.Lock()

    @override
    def layers(self) -> list[str]:
        return [source.name for source in self._sources]

    def _load_index(self) -> dict[str, list[RawCard]]:
        with self._lock:
            if self._index is None:
                index: dict[str, list[RawCard]] = {}
                for source in self._sources:
                    for raw in source.load():
                        index.setdefault(raw.name, []).append(raw)
                self._index = index
            return self._index

    @override
    def retrieve_names(self) -> list[str]:
        return sorted(name for name in self._load_index() if "@" not in name)

    @override
    def retrieve_variants(self, name: str) -> list[str]:
        prefix = f"{name}@"
        return sorted(n[len(prefix) :] for n in self._load_index() if n.startswith(prefix))

    @override
    def retrieve_card(self, name_or_path: str, *, env: str | None = None) -> AssetCard:
        index = self._load_index()
        env = env or self._env
        if _is_card_path(name_or_path):
            index, name_or_path = self._with_file(index, Path(name_or_path))
        name, _, explicit_env = name_or_path.partition("@")
        env = explicit_env or env
        if env and f"{name}@{env}" in index:
            return _Resolver(index).resolve(f"{name}@{env}")
        return _Resolver(index).resolve(name)

    def _with_file(
        self, index: dict[str, list[RawCard]], path: Path
    ) -> tuple[dict[str, list[RawCard]], str]:
        if not path.is_file():
            raise AssetCardNotFoundError(str(path), [], is_path=True)
        raws = load_card_file(path, layer=FILE_LAYER)
        names = [raw.name for raw in raws if "@" not in raw.name]
        if len(names) != 1:
            raise AssetCardError(
                f"a card file given by path must hold exactly one card (plus '@env' variants), "
                f"found {len(names)}: {', '.join(names) or 'none'}; pass a card name instead",
                source=str(path),
            )
        merged = {name: list(layers) for name, layers in index.items()}
        for raw in raws:
            merged.setdefault(raw.name, []).append(raw)
        return merged, names[0]


class _Resolver:
    """Merges one card's layers and ``base`` chain; detects missing bases and cycles."""

    def __init__(self, index: Mapping[str, list[RawCard]]) -> None:
        self._index = index

    def resolve(self, name: str) -> AssetCard:
        return self._resolve(name, [], None)

    def _resolve(self, name: str, chain: list[str], referrer: FieldOrigin | None) -> AssetCard:
        layers = self._index.get(name)
        if not layers:
            if referrer is None:
                known = [n for n in self._index if "@" not in n]
                raise AssetCardNotFoundError(name, difflib.get_close_matches(name, known, n=3))
            raise AssetCardError(
                f"its base '{name}' does not exist; fix the name or add that card",
                card=referrer.card,
                field="base",
                source=str(referrer.file),
                line=referrer.line,
            )

        fields: dict[str, object] = {}
        origins: dict[str, FieldOrigin] = {}
        for raw in layers:
            for key, value in raw.fields.items():
                fields[key] = value
                origins[key] = FieldOrigin(
                    file=raw.file,
                    line=raw.field_lines.get(key, raw.line),
                    layer=raw.layer,
                    card=name,
                    root=raw.root,
                )
        top = layers[-1]
        definition = FieldOrigin(
            file=top.file, line=top.line, layer=top.layer, card=name, root=top.root
        )
        base_name, env = self._base_of(name, fields, origins, definition)
        bases: tuple[str, ...] = ()
        if base_name is not None:
            if base_name in chain or base_name == name:
                cycle = " -> ".join([*chain, name, base_name])
                origin = origins.get("base", definition)
                raise AssetCardError(
                    f"'base' forms a cycle ({cycle}); remove one of the links",
                    card=name,
                    field="base",
                    source=str(origin.file),
                    line=origin.line,
                )
            parent = self._resolve(base_name, [*chain, name], origins.get("base", definition))
            # `abstract` marks the base itself; a card built on it is concrete unless it
            # says otherwise.
            names = [k for k in parent.field_names() if k not in _NOT_INHERITED]
            inherited = {k: parent.field(k).value() for k in names}
            inherited_origins = {k: parent.origin(k) for k in names}
            fields = {**inherited, **fields}
            origins = {**inherited_origins, **origins}
            bases = (base_name, *parent.bases)
            env = env or parent.env
        fields.pop("base", None)
        origins.pop("base", None)
        return AssetCard(
            name=name.partition("@")[0],
            fields=fields,
            origins=origins,
            definition=definition,
            env=env,
            bases=bases,
        )

    @staticmethod
    def _base_of(
        name: str,
        fields: Mapping[str, object],
        origins: Mapping[str, FieldOrigin],
        definition: FieldOrigin,
    ) -> tuple[str | None, str | None]:
        plain, _, env = name.partition("@")
        base = fields.get("base")
        if base is None:
            # A variant without an explicit base inherits from the card it varies.
            return (plain if env else None), env or None
        if not isinstance(base, str) or not base:
            origin = origins.get("base", definition)
            raise AssetCardError(
                f"'base' must be the name of another card, got {base!r}",
                card=name,
                field="base",
                source=str(origin.file),
                line=origin.line,
            )
        return base, env or None
