"""Registrations of `seqkit.assets` in the container."""

from __future__ import annotations

import importlib
import logging

from seqkit.assets import (
    AssetCardSource,
    AssetCardValidator,
    AssetDownloadManager,
    AssetStore,
    StandardAssetDownloadManager,
    StandardAssetStore,
)
from seqkit.assets.layers import (
    PACKAGE_LAYER,
    SYSTEM_LAYER,
    USER_LAYER,
    create_package_source,
    create_system_source,
    create_user_source,
    order_card_sources,
)
from seqkit.assets.paths import asset_env, cache_dir, is_offline
from seqkit.cli.command import CliCommand, CliGroup
from seqkit.cli.commands.assets import (
    AssetsDownloadCommand,
    AssetsListCommand,
    AssetsShowCommand,
    AssetsValidateCommand,
)
from seqkit.runtime import DependencyContainer, DependencyResolver

log = logging.getLogger(__name__)

# Where other components declare their family roles; looked up by name so that assets
# does not depend on them (they may not be installed or written yet).
_FAMILY_ROLES = {
    "model": (("seqkit.models", "ModelFamily"), ("seqkit.models.family", "ModelFamily")),
    "tokenizer": (("seqkit.text", "TokenizerFamily"), ("seqkit.text.family", "TokenizerFamily")),
}


def _registered_families(resolver: DependencyResolver, kind: str) -> list[str] | None:
    for module_name, attr in _FAMILY_ROLES[kind]:
        try:
            role = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError):
            continue
        names = [key for key, _ in resolver.resolve_all(role)]
        return names or None
    return None


def create_asset_validator(resolver: DependencyResolver) -> AssetCardValidator:
    """A validator that knows the model and tokenizer families registered so far."""
    return AssetCardValidator(
        model_families=_registered_families(resolver, "model"),
        tokenizer_families=_registered_families(resolver, "tokenizer"),
    )


def _create_store(resolver: DependencyResolver) -> AssetStore:
    sources = order_card_sources(resolver.resolve_all(AssetCardSource))
    return StandardAssetStore(sources, env=asset_env())


def _create_download_manager(resolver: DependencyResolver) -> AssetDownloadManager:
    return StandardAssetDownloadManager(cache_dir(), offline=is_offline())


def register_assets(container: DependencyContainer) -> None:
    """Register the card layers, the store, the download manager and ``seqkit assets``."""
    # Factories, not instances: the environment variables are read when the store is
    # first used, after extensions and tests had their say.
    container.register(AssetCardSource, lambda _: create_package_source(), key=PACKAGE_LAYER)
    container.register(AssetCardSource, lambda _: create_system_source(), key=SYSTEM_LAYER)
    container.register(AssetCardSource, lambda _: create_user_source(), key=USER_LAYER)
    container.register(AssetStore, _create_store)
    container.register(AssetDownloadManager, _create_download_manager)
    container.register(AssetCardValidator, create_asset_validator, singleton=False)

    container.register_instance(
        CliGroup,
        CliGroup(name="assets", help="list, show, download and validate asset cards"),
        key="assets",
    )
    container.register(CliCommand, AssetsListCommand, key="assets.list")
    container.register(CliCommand, AssetsShowCommand, key="assets.show")
    container.register(CliCommand, AssetsDownloadCommand, key="assets.download")
    container.register(CliCommand, AssetsValidateCommand, key="assets.validate")
