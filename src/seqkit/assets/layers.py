"""The built-in layers and the precedence order of every layer of the default store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from seqkit.assets.paths import CHECKOUT_CARDS, find_package_cards, system_card_dir, user_card_dir
from seqkit.assets.source import AssetCardSource, DirectoryCardSource

PACKAGE_LAYER: Final = "package"
SYSTEM_LAYER: Final = "system"
USER_LAYER: Final = "user"


def create_package_source(module_file: Path | None = None) -> DirectoryCardSource:
    """The cards shipped with seqkit (empty if they cannot be found); ``module_file``
    stands in for this module's location (tests use it to mimic a wheel)."""
    package = find_package_cards(module_file)
    if package is None:
        return DirectoryCardSource(PACKAGE_LAYER, None)
    return DirectoryCardSource(
        PACKAGE_LAYER,
        package.directory,
        root=package.root,
        exclude=() if package.checkout else (CHECKOUT_CARDS,),
    )


def create_system_source(environ: Mapping[str, str] | None = None) -> DirectoryCardSource:
    """``SEQKIT_ASSET_DIR`` (an empty layer when unset)."""
    return DirectoryCardSource(SYSTEM_LAYER, system_card_dir(environ))


def create_user_source(environ: Mapping[str, str] | None = None) -> DirectoryCardSource:
    """``SEQKIT_USER_ASSET_DIR`` or ``~/.config/seqkit/assets``."""
    return DirectoryCardSource(USER_LAYER, user_card_dir(environ))


def order_card_sources(named: Sequence[tuple[str, AssetCardSource]]) -> list[AssetCardSource]:
    """Lowest precedence first: package, extension layers (in registration order), system,
    user. Users thus override both what seqkit and what extensions ship."""
    by_key = dict(named)
    top = [k for k in (SYSTEM_LAYER, USER_LAYER) if k in by_key]
    ordered = [k for k in (PACKAGE_LAYER,) if k in by_key]
    ordered += [k for k, _ in named if k not in (PACKAGE_LAYER, *top)]
    return [by_key[k] for k in [*ordered, *top]]
