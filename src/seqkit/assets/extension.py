"""The hook extensions use to add a directory of cards as a layer of the store."""

from __future__ import annotations

from pathlib import Path

from seqkit.assets.source import AssetCardSource, DirectoryCardSource
from seqkit.runtime import DependencyContainer


def register_card_directory(
    container: DependencyContainer, name: str, path: Path | str, *, root: Path | str | None = None
) -> None:
    """Add the cards under ``path`` as the layer ``name`` of the default ``AssetStore``.

    Call it from an extension's entry point. Extension layers rank above the package cards
    and below ``SEQKIT_ASSET_DIR`` and the user directory, so users can still override any
    card an extension ships. ``root`` widens where relative card paths may point (default:
    each card's own directory). Registering the same ``name`` again replaces the layer.
    """
    directory = Path(path)
    bound = None if root is None else Path(root)
    container.register(
        AssetCardSource,
        lambda _: DirectoryCardSource(name, directory, root=bound),
        key=name,
    )
