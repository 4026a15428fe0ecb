"""``TokenizerHub``: load a tokenizer by card name, card file, local path or built-in name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, final

from seqkit.text.errors import TokenizerLoadError, UnknownTokenizerFamilyError
from seqkit.text.family import TokenizerFamily
from seqkit.text.tokenizer import TextTokenizer

CARD_SUFFIXES = (".yaml", ".yml")


@final
@dataclass(frozen=True, kw_only=True)
class TokenizerSource:
    """Where a tokenizer comes from, resolved but not loaded yet."""

    name: str
    """What the user asked for (a card name, a path, or a built-in name)."""

    family: str
    """The tokenizer family that loads it."""

    path: Path | None
    """The local file or directory (``None`` for a built-in tokenizer)."""

    card: str | None = None
    """The asset card it was read from, if any."""


class TokenizerCardResolver(Protocol):
    """Turns a card name or card file path into a :class:`TokenizerSource`.

    The composition root provides one over the asset store (see
    :mod:`seqkit.text.cards`); without one, the hub loads only local paths and built-ins.
    """

    def resolve_card(self, name_or_path: str, *, detect: DetectFamily) -> TokenizerSource: ...


class DetectFamily(Protocol):
    """Guesses the family of a local tokenizer path (used when a card names none)."""

    def __call__(self, path: Path, *, origin: str) -> str: ...


@final
class TokenizerHub:
    """Finds and loads tokenizers through the registered :class:`TokenizerFamily` entries."""

    def __init__(
        self,
        families: Mapping[str, TokenizerFamily],
        *,
        cards: TokenizerCardResolver | None = None,
    ) -> None:
        self._families = dict(families)
        self._cards = cards

    @property
    def families(self) -> list[str]:
        """Names of the registered families."""
        return sorted(self._families)

    def load(self, name_or_path: str | Path) -> TextTokenizer:
        """Load ``name_or_path``: a built-in (``"byte"``, ``"char"``), a local tokenizer
        file/directory (``.model``, ``tokenizer.json`` or its directory, ``*.chars.json``),
        a card file (``.yaml``), a Hugging Face repo id ``ORG/NAME[@REVISION]`` (from the
        local hub cache, see :func:`seqkit.assets.hf_cache.resolve_hf_repo`) or a card name."""
        return self.load_source(self.resolve(name_or_path))

    def resolve(self, name_or_path: str | Path) -> TokenizerSource:
        """Find where ``name_or_path`` lives and which family loads it, without loading."""
        name = str(name_or_path)
        builtin = self._families.get(name)
        if builtin is not None and builtin.builtin and not Path(name).exists():
            return TokenizerSource(name=name, family=name, path=None)
        path = Path(name).expanduser()
        if path.exists() and not (path.is_file() and path.suffix in CARD_SUFFIXES):
            return TokenizerSource(
                name=name, family=self.detect_family(path, origin=name), path=path
            )
        if not path.exists():
            repo_dir = _hf_repo_dir(name)
            if repo_dir is not None:
                return TokenizerSource(
                    name=name, family=self.detect_family(repo_dir, origin=name), path=repo_dir
                )
        if self._cards is None:
            reason = (
                "no such file or directory, and no asset store is configured to look it up as a"
                " card name"
            )
            if not path.exists():
                raise TokenizerLoadError(name, reason + f"; built-ins: {self._builtins()}.")
            raise TokenizerLoadError(name, "card files need an asset store; none is configured.")
        return self._cards.resolve_card(name, detect=self.detect_family)

    def load_source(self, source: TokenizerSource) -> TextTokenizer:
        """Load a resolved :class:`TokenizerSource`."""
        family = self._families.get(source.family)
        if family is None:
            where = f"card {source.card!r}" if source.card else None
            raise UnknownTokenizerFamilyError(source.family, list(self._families), where=where)
        return family.loader(source.path)

    def detect_family(self, path: Path, *, origin: str) -> str:
        """The family whose ``recognizes`` accepts ``path``; raise if none or several do."""
        matches = [name for name, family in self._families.items() if family.recognizes(path)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise TokenizerLoadError(
                origin,
                f"{path} is not a recognized tokenizer (a SentencePiece .model file, a "
                "tokenizer.json or a directory holding one, a *.chars.json alphabet, or a card "
                ".yaml); name its family in a card with `tokenizer_family:`.",
            )
        raise TokenizerLoadError(
            origin,
            f"{path} matches several families ({', '.join(matches)}); "
            "name one in a card with `tokenizer_family:`.",
        )

    def _builtins(self) -> str:
        return ", ".join(sorted(n for n, f in self._families.items() if f.builtin)) or "none"


def _hf_repo_dir(name: str) -> Path | None:
    """The hub-cache snapshot of HF repo id ``name`` (``None`` when it is no repo id)."""
    from seqkit.assets.hf_cache import HubCacheError, looks_like_repo_id, resolve_hf_repo

    if not looks_like_repo_id(name):
        return None
    try:
        return resolve_hf_repo(name)
    except HubCacheError as ex:
        raise TokenizerLoadError(name, str(ex)) from ex
