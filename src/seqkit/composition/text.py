"""Registrations of `seqkit.text` in the container."""

from __future__ import annotations

from seqkit.assets import AssetDownloadManager, AssetStore
from seqkit.cli.command import CliCommand, CliGroup
from seqkit.cli.commands.data import PreprocessCommand
from seqkit.cli.commands.text import DecodeCommand, EncodeCommand, TrainTokenizerCommand
from seqkit.runtime import DependencyContainer, DependencyResolver
from seqkit.text import (
    BYTE_FAMILY,
    CHAR_FAMILY,
    HF_FAMILY,
    SENTENCEPIECE_FAMILY,
    TokenizerFamily,
    TokenizerHub,
    byte_family,
    char_family,
    huggingface_family,
    sentencepiece_family,
)
from seqkit.text.cards import AssetTokenizerCardResolver


def create_tokenizer_hub(resolver: DependencyResolver) -> TokenizerHub:
    """A hub over every registered family, looking up card names in the asset store."""
    families = dict(resolver.resolve_all(TokenizerFamily))
    store = resolver.resolve_optional(AssetStore)
    downloads = resolver.resolve_optional(AssetDownloadManager)
    cards = (
        AssetTokenizerCardResolver(store, downloads)
        if store is not None and downloads is not None
        else None
    )
    return TokenizerHub(families, cards=cards)


def register_text(container: DependencyContainer) -> None:
    """Register the tokenizer families, the hub, and ``seqkit text`` / ``data preprocess``."""
    container.register(TokenizerFamily, lambda _: sentencepiece_family(), key=SENTENCEPIECE_FAMILY)
    container.register(TokenizerFamily, lambda _: byte_family(), key=BYTE_FAMILY)
    container.register(TokenizerFamily, lambda _: char_family(), key=CHAR_FAMILY)
    container.register(TokenizerFamily, lambda _: huggingface_family(), key=HF_FAMILY)
    container.register(TokenizerHub, create_tokenizer_hub)

    container.register_instance(
        CliGroup, CliGroup(name="text", help="train tokenizers, encode and decode text"), key="text"
    )
    # The data component may register the group too; either registration serves.
    if not container.is_registered(CliGroup, "data"):
        container.register_instance(
            CliGroup, CliGroup(name="data", help="prepare and inspect datasets"), key="data"
        )
    container.register(CliCommand, lambda _: TrainTokenizerCommand(), key="text.train-tokenizer")
    container.register(CliCommand, EncodeCommand, key="text.encode")
    container.register(CliCommand, DecodeCommand, key="text.decode")
    container.register(CliCommand, PreprocessCommand, key="data.preprocess")
