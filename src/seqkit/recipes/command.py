"""The CLI command that runs a training recipe: ``seqkit GROUP NAME OUTPUT_DIR [flags]``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from typing_extensions import override

from seqkit.cli.command import CliCommand
from seqkit.config import PresetRegistry
from seqkit.recipes.cli_args import add_recipe_arguments, handle_info_flags, resolve_invocation

ConfigT = TypeVar("ConfigT")
ConfigT_contra = TypeVar("ConfigT_contra", contravariant=True)


class TrainingRecipe(Protocol[ConfigT_contra]):
    """A recipe that trains (or resumes) into an output directory."""

    def run(self, config: ConfigT_contra, output_dir: Path) -> object: ...


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
        if handle_info_flags(args, self._presets):
            return 0
        invocation = resolve_invocation(args, self._presets)
        self._recipe().run(invocation.config, invocation.output_dir)
        return 0
