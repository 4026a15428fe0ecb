"""``seqkit models list|show|export``."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import torch
import yaml
from typing_extensions import override

from seqkit.cli.command import CliCommand
from seqkit.cli.errors import CliUsageError
from seqkit.errors import SeqkitError
from seqkit.models import ModelFamilies, ModelHub, export_hf, save_model
from seqkit.models.family import config_to_dict
from seqkit.text import TextTokenizer, TokenizerHub, TokenizerSource

_CARD = "card.yaml"

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class ModelsListCommand(CliCommand):
    """``seqkit models list``: every family and its named architectures."""

    group = "models"
    name = "list"
    help = "list the model families and their architectures"

    def __init__(self, families: ModelFamilies) -> None:
        self._families = families

    @override
    def run(self, args: argparse.Namespace) -> int:
        for name in self._families.names():
            family = self._families.get(name)
            print(f"{name}: {', '.join(family.arch_names())}")
        return 0


class ModelsShowCommand(CliCommand):
    """``seqkit models show FAMILY ARCH``: the arch's config as YAML, with parameter count."""

    group = "models"
    name = "show"
    help = "print the config of a model architecture and its parameter count"

    def __init__(self, families: ModelFamilies) -> None:
        self._families = families

    @override
    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("family", help="model family, e.g. llama")
        parser.add_argument("arch", help="architecture name, e.g. tiny")

    @override
    def run(self, args: argparse.Namespace) -> int:
        family = self._families.get(args.family)
        config = family.arch_config(args.arch)
        # Built on the meta device: counting parameters of a 70B arch costs no memory.
        model = family.create_model(config, device=torch.device("meta"))
        params = sum(p.numel() for p in model.parameters())
        print(yaml.safe_dump(config_to_dict(config), sort_keys=False), end="")
        print(f"# parameters: {params:,}")
        return 0


class ModelsExportCommand(CliCommand):
    """``seqkit models export SOURCE OUTPUT --format hf|seqkit``."""

    group = "models"
    name = "export"
    help = "write a model (card, directory or file) in Hugging Face or seqkit layout"

    def __init__(self, hub: ModelHub, families: ModelFamilies, tokenizer_hub: TokenizerHub) -> None:
        self._hub = hub
        self._families = families
        self._tokenizer_hub = tokenizer_hub

    def _tokenizers(self) -> TokenizerHub:
        return self._tokenizer_hub

    @override
    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "source", help="card name, card file, run directory, or checkpoint dir/file"
        )
        parser.add_argument("output", help="directory to write (must not exist)")
        parser.add_argument("--format", choices=("hf", "seqkit"), default="hf")
        parser.add_argument(
            "--dtype", choices=sorted(_DTYPES), default=None, help="cast weights (default: keep)"
        )
        parser.add_argument(
            "--overwrite",
            action="store_true",
            help="replace an existing output directory (the old one stays if the export fails)",
        )
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--tokenizer",
            default=None,
            help="the tokenizer to export with the model (default: the source's own: its "
            "card's, its run's, or the tokenizer.json of an HF directory)",
        )
        group.add_argument(
            "--no-tokenizer", action="store_true", help="export the model without a tokenizer"
        )

    @override
    def run(self, args: argparse.Namespace) -> int:
        output = Path(args.output).expanduser()
        _check_output(output, overwrite=args.overwrite)
        dtype = _DTYPES[args.dtype] if args.dtype else None
        model = self._hub.load(args.source, dtype=dtype)
        tokenizer: tuple[TextTokenizer, TokenizerSource] | None = None
        if args.format == "hf" and not args.no_tokenizer:
            tokenizer = self._find_tokenizer(args.source, args.tokenizer)
        output.parent.mkdir(parents=True, exist_ok=True)
        # Written next to the target and renamed into place: a failed or killed export
        # never leaves a half-written directory, and --overwrite keeps the old one until
        # the new one is complete.
        staging = Path(
            tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
        )
        try:
            if args.format == "hf":
                export_hf(
                    model,
                    staging,
                    self._families,
                    tokenizer=tokenizer[0] if tokenizer else None,
                    tokenizer_path=tokenizer[1].path if tokenizer else None,
                )
            else:
                save_model(model, staging)
            _replace_dir(staging, output)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        with_tokenizer = f" with its {tokenizer[1].family} tokenizer" if tokenizer else ""
        print(f"wrote {args.format} model to {output}{with_tokenizer}")
        return 0

    def _find_tokenizer(
        self, source: str, explicit: str | None
    ) -> tuple[TextTokenizer, TokenizerSource] | None:
        """The tokenizer named by ``--tokenizer``, or the source's own; warn without one."""
        hub = self._tokenizers()
        if explicit is not None:
            resolved = hub.resolve(explicit)
            return hub.load_source(resolved), resolved
        for candidate in _tokenizer_candidates(source):
            try:
                resolved = hub.resolve(candidate)
            except SeqkitError:  # no such card, or a card without a tokenizer
                continue
            return hub.load_source(resolved), resolved
        print(
            f"warning: found no tokenizer for {source}; the export has no tokenizer files, so "
            "AutoTokenizer.from_pretrained cannot load it. Pass --tokenizer TOKENIZER (or "
            "--no-tokenizer to silence this).",
            file=sys.stderr,
        )
        return None


def _tokenizer_candidates(source: str) -> list[str]:
    """Where the tokenizer of model ``source`` may be: its card, its run's card, the
    tokenizer.json of its HF directory."""
    path = Path(source).expanduser()
    if path.is_file() and path.suffix in (".yaml", ".yml") and path.name != "model.yaml":
        return [str(path)]
    if path.is_file():
        path = path.parent
    if path.is_dir():
        candidates = [path / _CARD, path.parent / _CARD]  # a run dir, or its model/ dir
        found = [str(c) for c in candidates if c.is_file()]
        if (path / "tokenizer.json").is_file():
            found.append(str(path))
        return found
    return [source] if "/" not in source else []  # a card name


def _check_output(output: Path, *, overwrite: bool) -> None:
    if output.is_dir():
        if not overwrite:
            raise CliUsageError(
                f"Output directory {output} already exists; pass --overwrite to replace it "
                "(or choose another output)."
            )
    elif output.exists() or output.is_symlink():
        raise CliUsageError(
            f"Output {output} exists and is a file, not a directory; the export writes a "
            "directory. Choose another output path (--overwrite only replaces directories)."
        )


def _replace_dir(staging: Path, output: Path) -> None:
    """Rename the complete ``staging`` directory to ``output``, replacing an existing one.

    The old directory is renamed aside first and deleted only after the new one is in place,
    so at every moment one complete export exists (between the two renames, under the
    aside name).
    """
    if not output.is_dir():
        staging.rename(output)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".old", dir=output.parent))
    aside.rmdir()
    output.rename(aside)
    try:
        staging.rename(output)
    except OSError:
        aside.rename(output)
        raise
    shutil.rmtree(aside, ignore_errors=True)
