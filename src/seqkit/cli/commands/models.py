"""``seqkit models list|show|export``."""

from __future__ import annotations

import argparse

import torch
import yaml
from typing_extensions import override

from seqkit.cli.command import CliCommand
from seqkit.models import ModelFamilies, ModelHub, export_hf, save_model
from seqkit.models.family import config_to_dict

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

    def __init__(self, hub: ModelHub, families: ModelFamilies) -> None:
        self._hub = hub
        self._families = families

    @override
    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("source", help="card name, card file, or checkpoint dir/file")
        parser.add_argument("output", help="directory to write")
        parser.add_argument("--format", choices=("hf", "seqkit"), default="hf")
        parser.add_argument(
            "--dtype", choices=sorted(_DTYPES), default=None, help="cast weights (default: keep)"
        )

    @override
    def run(self, args: argparse.Namespace) -> int:
        dtype = _DTYPES[args.dtype] if args.dtype else None
        model = self._hub.load(args.source, dtype=dtype)
        if args.format == "hf":
            out = export_hf(model, args.output, self._families)
        else:
            out = save_model(model, args.output)
        print(f"wrote {args.format} model to {out}")
        return 0
