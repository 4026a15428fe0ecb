"""The CLI command that runs a training recipe: ``seqkit GROUP NAME OUTPUT_DIR [flags]``.

The command line (argparse) lives here; the recipe side takes typed arguments
(:func:`seqkit.recipes.cli_args.resolve_invocation`) and a resolved config.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from typing_extensions import override

from seqkit.cli.command import CliCommand
from seqkit.config import PresetRegistry, dump_config
from seqkit.recipes.cli_args import resolve_config_from, resolve_invocation

ConfigT = TypeVar("ConfigT")
ConfigT_contra = TypeVar("ConfigT_contra", contravariant=True)


class TrainingRecipe(Protocol[ConfigT_contra]):
    """A recipe that trains (or resumes) into an output directory."""

    def validate(self, config: ConfigT_contra) -> None: ...

    def run(self, config: ConfigT_contra, output_dir: Path) -> object: ...


def add_recipe_arguments(parser: argparse.ArgumentParser, presets: PresetRegistry[ConfigT]) -> None:
    """Add ``OUTPUT_DIR``, ``--preset``, ``--config-file``, ``--config``, ``--dump-config``..."""
    parser.add_argument(
        "output_dir",
        metavar="OUTPUT_DIR",
        type=Path,
        nargs="?",
        help="where checkpoints, metrics, the model and its card go (resumed if it exists)",
    )
    parser.add_argument(
        "--preset",
        default=None,
        help=f"named starting config (default: {presets.default}; see --list-presets)",
    )
    parser.add_argument(
        "--list-presets", action="store_true", help="list the presets of this recipe and exit"
    )
    parser.add_argument(
        "--config-file",
        action="append",
        type=Path,
        default=[],
        metavar="FILE.yaml",
        help="YAML file merged over the preset (repeatable; later files win)",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key, e.g. --config optim.optimizer.lr=1e-3 "
        "(repeatable; values are YAML)",
    )
    parser.add_argument(
        "--dump-config",
        action="store_true",
        help="print the resolved config as commented YAML and exit",
    )


class RecipeCommand(CliCommand, Generic[ConfigT]):
    """Presets, ``--config-file``/``--config`` overrides and resume, then the recipe.

    Subclasses set :attr:`group`, :attr:`name`, :attr:`help` and :attr:`description`.
    """

    def __init__(
        self,
        presets: PresetRegistry[ConfigT],
        recipe: Callable[[], TrainingRecipe[ConfigT]],
    ) -> None:
        self._presets = presets
        self._recipe = recipe

    @override
    def configure(self, parser: argparse.ArgumentParser) -> None:
        add_recipe_arguments(parser, self._presets)

    @override
    def run(self, args: argparse.Namespace) -> int:
        if args.list_presets:
            print(self._presets.describe())
            return 0
        if args.dump_config:
            config = resolve_config_from(
                self._presets,
                preset=args.preset,
                config_files=args.config_file,
                overrides=args.config,
            )
            self._recipe().validate(config)
            sys.stdout.write(dump_config(config))
            return 0
        invocation = resolve_invocation(
            self._presets,
            output_dir=args.output_dir,
            preset=args.preset,
            config_files=args.config_file,
            overrides=args.config,
        )
        self._recipe().run(invocation.config, invocation.output_dir)
        return 0
