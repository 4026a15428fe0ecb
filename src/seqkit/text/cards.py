"""Tokenizers named by asset cards: ``tokenizer:`` (path or URI) and ``tokenizer_family:``."""

from __future__ import annotations

from typing import final

from seqkit.assets import AssetDownloadManager, AssetStore
from seqkit.text.errors import TokenizerLoadError
from seqkit.text.hub import DetectFamily, TokenizerSource


@final
class AssetTokenizerCardResolver:
    """Resolves tokenizer cards through the asset store and the download manager."""

    def __init__(self, store: AssetStore, downloads: AssetDownloadManager) -> None:
        self._store = store
        self._downloads = downloads

    def resolve_card(self, name_or_path: str, *, detect: DetectFamily) -> TokenizerSource:
        """Find the card, fetch/verify its ``tokenizer`` file, and name its family.

        A card without ``tokenizer_family:`` gets the family its file format implies.
        """
        card = self._store.retrieve_card(name_or_path)
        if not card.field("tokenizer").exists():
            raise TokenizerLoadError(
                name_or_path,
                f"card {card.name!r} ({card.file}) has no `tokenizer:` field; add the path "
                "or URI of the tokenizer file to it.",
            )
        path = self._downloads.resolve_path(card, "tokenizer")
        family_field = card.field("tokenizer_family")
        family = (
            family_field.as_str()
            if family_field.exists()
            else detect(path, origin=f"card {card.name!r}")
        )
        return TokenizerSource(name=name_or_path, family=family, path=path, card=card.name)
