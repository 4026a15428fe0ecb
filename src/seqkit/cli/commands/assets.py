"""``seqkit assets list|show|download|validate``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from typing_extensions import override

from seqkit.assets import (
    URI_FIELDS,
    AssetCard,
    AssetCardSource,
    AssetCardValidator,
    AssetDownloadManager,
    AssetStore,
    DirectoryCardSource,
    FileCardSource,
)
from seqkit.assets.layers import order_card_sources
from seqkit.assets.schema import file_fields
from seqkit.assets.store import FILE_LAYER
from seqkit.assets.validate import validate_sources
from seqkit.cli.command import CliCommand
from seqkit.errors import SeqkitError
from seqkit.runtime import DependencyResolver

KINDS = ("model", "tokenizer", "dataset", "other")


def _render(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _family(card: AssetCard) -> str:
    for family_field, arch_field in (("model_family", "model_arch"), ("tokenizer_family", "")):
        family = card.field(family_field)
        if family.exists():
            text = _render(family.value())
            if arch_field and card.field(arch_field).exists():
                text += f"/{_render(card.field(arch_field).value())}"
            return text
    return "-"


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


class AssetsListCommand(CliCommand):
    """``seqkit assets list [--kind KIND]``: a table of every card."""

    group = "assets"
    name = "list"
    help = "list the asset cards: name, kind, family/arch, source layer"

    def __init__(self, resolver: DependencyResolver) -> None:
        self._resolver = resolver

    @override
    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--kind", choices=KINDS, help="only cards of this kind")
        parser.add_argument("--env", help="apply the '@ENV' variants (default: SEQKIT_ASSET_ENV)")

    @override
    def run(self, args: argparse.Namespace) -> int:
        store = self._resolver.resolve(AssetStore)
        rows: list[tuple[str, ...]] = [("NAME", "KIND", "FAMILY/ARCH", "LAYER", "VARIANTS")]
        broken = 0
        for name in store.retrieve_names():
            try:
                card = store.retrieve_card(name, env=args.env)
            except SeqkitError as ex:
                broken += 1
                rows.append((name, "invalid", str(ex), "-", "-"))
                continue
            if args.kind and card.kind != args.kind:
                continue
            variants = ",".join(store.retrieve_variants(name)) or "-"
            rows.append((name, card.kind, _family(card), card.definition.layer, variants))
        if len(rows) == 1:
            print("No asset cards found." if not args.kind else f"No {args.kind} cards found.")
            return 0
        _print_table(rows)
        return 1 if broken else 0


class _OneCardCommand(CliCommand):
    """A command over one card: ``NAME`` (a card name or file) and ``--env``."""

    def __init__(self, resolver: DependencyResolver) -> None:
        self._resolver = resolver

    @override
    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("name", metavar="NAME", help="a card name or a card file path")
        parser.add_argument("--env", help="apply the '@ENV' variant (default: SEQKIT_ASSET_ENV)")


class AssetsShowCommand(_OneCardCommand):
    """``seqkit assets show NAME``: the resolved card and where each field came from."""

    group = "assets"
    name = "show"
    help = "show a resolved card with the file, line and layer of every field"

    @override
    def run(self, args: argparse.Namespace) -> int:
        store = self._resolver.resolve(AssetStore)
        card = store.retrieve_card(args.name, env=args.env)
        print(f"name: {card.name}")
        if card.env:
            print(f"env: {card.env}")
        print(f"kind: {card.kind}")
        print(f"defined: {card.definition.where()} (layer {card.definition.layer})")
        if card.bases:
            print(f"bases: {' -> '.join(card.bases)}")
        print("fields:")
        shown = f"{card.name}@{card.env}" if card.env else card.name
        names = card.field_names()
        width = max((len(n) for n in names), default=0)
        for field_name in names:
            origin = card.origin(field_name)
            inherited = f", from card '{origin.card}'" if origin.card != shown else ""
            value = _render(card.field(field_name).value())
            print(f"  {field_name.ljust(width)}  {value}")
            print(f"  {''.ljust(width)}  # {origin.where()} (layer {origin.layer}{inherited})")
        return 0


class AssetsDownloadCommand(_OneCardCommand):
    """``seqkit assets download NAME``: fetch and verify every file the card names."""

    group = "assets"
    name = "download"
    help = "download and verify every file a card points to"

    @override
    def configure(self, parser: argparse.ArgumentParser) -> None:
        super().configure(parser)
        parser.add_argument(
            "--verify",
            action="store_true",
            help="hash every file against the card's sha256 in full, even cached ones whose "
            "size and mtime are unchanged, and extract cached archives again",
        )

    @override
    def run(self, args: argparse.Namespace) -> int:
        store = self._resolver.resolve(AssetStore)
        manager = self._resolver.resolve(AssetDownloadManager)
        names = set(store.retrieve_names())
        pending = [store.retrieve_card(args.name, env=args.env)]
        done: set[str] = set()
        count = 0
        while pending:
            card = pending.pop()
            if card.name in done:
                continue
            done.add(card.name)
            for field_name in file_fields(card):
                field = card.field(field_name)
                value = field.as_str()
                # A model card's `tokenizer` may name a tokenizer card instead of a file.
                if field_name == "tokenizer" and value in names and card.kind == "model":
                    pending.append(store.retrieve_card(value, env=args.env))
                    continue
                path = manager.resolve_path(card, field_name, verify=args.verify)
                checked = card.field(f"{field_name}_sha256").exists()
                note = "sha256 OK" if checked else "no sha256 in the card, not verified"
                print(f"{card.name}.{field_name}: {path} ({note})")
                count += 1
        if count == 0:
            print(f"Card '{args.name}' points to no file ({', '.join(URI_FIELDS)}).")
        return 0


class AssetsValidateCommand(CliCommand):
    """``seqkit assets validate [PATH]``: check cards against their kind's schema."""

    group = "assets"
    name = "validate"
    help = "check every card (or those in PATH) and report all problems with file and line"

    def __init__(self, resolver: DependencyResolver) -> None:
        self._resolver = resolver

    @override
    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "path",
            metavar="PATH",
            nargs="?",
            type=Path,
            help="a card file or directory (default: every layer of the store)",
        )

    @override
    def run(self, args: argparse.Namespace) -> int:
        sources = order_card_sources(self._resolver.resolve_all(AssetCardSource))
        only_layer = None
        if args.path is not None:
            path: Path = args.path
            if not path.exists():
                raise SeqkitError(f"{path} does not exist; pass a card file or directory")
            sources.append(_path_source(path))
            only_layer = FILE_LAYER
        validator = self._resolver.resolve(AssetCardValidator)
        report = validate_sources(sources, validator, only_layer=only_layer)
        for problem in report.problems:
            print(problem)
        status = "OK" if report.ok else f"{len(report.problems)} problem(s)"
        print(f"{len(report.checked)} card(s) checked: {status}")
        return 0 if report.ok else 1


def _path_source(path: Path) -> AssetCardSource:
    if path.is_dir():
        return DirectoryCardSource(FILE_LAYER, path)
    return FileCardSource(FILE_LAYER, path)
