"""Asset cards: named models, tokenizers and datasets resolved to verified local files.

``AssetStore.retrieve_card(name)`` finds a card across layers (package, extensions,
``SEQKIT_ASSET_DIR``, user dir); ``AssetDownloadManager.resolve_path(card, field)`` turns
its path or URI into a local, checksummed file. See ``docs/assets.md``.
"""

from __future__ import annotations

from seqkit.assets.archive import extract_archive
from seqkit.assets.card import AssetCard, AssetCardField, FieldOrigin
from seqkit.assets.download import AssetDownloadManager, StandardAssetDownloadManager
from seqkit.assets.errors import (
    AssetArchiveError,
    AssetCardError,
    AssetCardNotFoundError,
    AssetChecksumError,
    AssetDownloadError,
    AssetError,
    AssetOfflineError,
    AssetPathError,
)
from seqkit.assets.extension import register_card_directory
from seqkit.assets.fetch import FetchOptions
from seqkit.assets.paths import PackageCards, find_package_cards
from seqkit.assets.schema import (
    KIND_SCHEMAS,
    URI_FIELDS,
    AssetCardProblem,
    AssetCardValidator,
)
from seqkit.assets.source import (
    AssetCardSource,
    DirectoryCardSource,
    FileCardSource,
    RawCard,
    StaticCardSource,
    load_card_file,
)
from seqkit.assets.store import AssetStore, StandardAssetStore

__all__ = [
    "KIND_SCHEMAS",
    "URI_FIELDS",
    "AssetArchiveError",
    "AssetCard",
    "AssetCardError",
    "AssetCardField",
    "AssetCardNotFoundError",
    "AssetCardProblem",
    "AssetCardSource",
    "AssetCardValidator",
    "AssetChecksumError",
    "AssetDownloadError",
    "AssetDownloadManager",
    "AssetError",
    "AssetOfflineError",
    "AssetPathError",
    "AssetStore",
    "DirectoryCardSource",
    "FetchOptions",
    "FieldOrigin",
    "FileCardSource",
    "PackageCards",
    "RawCard",
    "StandardAssetDownloadManager",
    "StandardAssetStore",
    "StaticCardSource",
    "extract_archive",
    "find_package_cards",
    "load_card_file",
    "register_card_directory",
]
