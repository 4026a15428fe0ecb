"""Registrations of `seqkit.models` in the container."""

from __future__ import annotations

from seqkit.assets import AssetDownloadManager, AssetStore
from seqkit.cli.command import CliCommand, CliGroup
from seqkit.cli.commands.models import ModelsExportCommand, ModelsListCommand, ModelsShowCommand
from seqkit.models import ModelFamilies, ModelFamily, ModelHub
from seqkit.models.llama import LLAMA_FAMILY, create_llama_family
from seqkit.models.transformer import TRANSFORMER_FAMILY, create_transformer_family
from seqkit.runtime import DependencyContainer, DependencyResolver
from seqkit.text import TokenizerHub


def _create_families(resolver: DependencyResolver) -> ModelFamilies:
    # Resolved lazily so that families registered later by extensions are included.
    return ModelFamilies(family for _, family in resolver.resolve_all(ModelFamily))


def _create_hub(resolver: DependencyResolver) -> ModelHub:
    return ModelHub(
        resolver.resolve(ModelFamilies),
        resolver.resolve_optional(AssetStore),
        resolver.resolve_optional(AssetDownloadManager),
    )


def register_models(container: DependencyContainer) -> None:
    """Register the models component's factories, families and CLI commands."""
    container.register(ModelFamily, lambda _: create_llama_family(), key=LLAMA_FAMILY)
    container.register(ModelFamily, lambda _: create_transformer_family(), key=TRANSFORMER_FAMILY)
    container.register(ModelFamilies, _create_families)
    container.register(ModelHub, _create_hub)

    container.register_instance(
        CliGroup, CliGroup(name="models", help="list, inspect and export models"), key="models"
    )
    container.register(
        CliCommand, lambda r: ModelsListCommand(r.resolve(ModelFamilies)), key="models.list"
    )
    container.register(
        CliCommand, lambda r: ModelsShowCommand(r.resolve(ModelFamilies)), key="models.show"
    )
    container.register(
        CliCommand,
        lambda r: ModelsExportCommand(
            r.resolve(ModelHub), r.resolve(ModelFamilies), r.resolve(TokenizerHub)
        ),
        key="models.export",
    )
