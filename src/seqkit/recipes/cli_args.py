"""The command-line surface shared by every training recipe: presets, files, overrides."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from seqkit.config import PresetRegistry, dump_config, load_config, resolve_config

ConfigT = TypeVar("ConfigT")

CONFIG_FILE_NAME = "config.yaml"
"""The resolved config of a run, written into its output directory."""


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


@dataclass(frozen=True, kw_only=True)
class RecipeInvocation(Generic[ConfigT]):
    """What the recipe arguments resolved to."""

    output_dir: Path
    """Where the run writes everything."""

    config: ConfigT
    """The fully resolved config."""

    resumed_config: bool
    """Whether ``OUTPUT_DIR`` already held a config (the run continues an earlier one)."""


def handle_info_flags(args: argparse.Namespace, presets: PresetRegistry[ConfigT]) -> bool:
    """Handle ``--list-presets`` and ``--dump-config``; return whether the command is done."""
    if args.list_presets:
        print(presets.describe())
        return True
    if args.dump_config:
        config = resolve_from_args(args, presets)
        sys.stdout.write(dump_config(config))
        return True
    return False


def resolve_from_args(args: argparse.Namespace, presets: PresetRegistry[ConfigT]) -> ConfigT:
    """Preset, then ``--config-file`` files, then ``--config`` overrides."""
    base = presets.create(args.preset)
    return resolve_config(base, config_files=args.config_file, overrides=args.config)


def resolve_invocation(
    args: argparse.Namespace, presets: PresetRegistry[ConfigT]
) -> RecipeInvocation[ConfigT]:
    """Resolve the config for a run in ``args.output_dir``.

    A directory that already holds ``config.yaml`` is a run to resume: with no preset,
    file or override given, its saved config is used as is; otherwise the new flags are
    applied on top of the saved config (so ``--config train.max_steps=2000`` extends a run).
    """
    from seqkit.recipes.errors import RecipeError

    if args.output_dir is None:
        raise RecipeError("OUTPUT_DIR is required (where the run writes its files).")
    output_dir: Path = args.output_dir
    saved = output_dir / CONFIG_FILE_NAME
    if saved.is_file():
        base = load_config(saved, presets.config_type)
        if args.preset is not None:
            base = presets.create(args.preset)
        config = resolve_config(base, config_files=args.config_file, overrides=args.config)
        return RecipeInvocation(output_dir=output_dir, config=config, resumed_config=True)
    config = resolve_from_args(args, presets)
    return RecipeInvocation(output_dir=output_dir, config=config, resumed_config=False)


def save_config(config: object, output_dir: Path) -> Path:
    """Write the resolved config (commented YAML) into ``output_dir`` atomically."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / CONFIG_FILE_NAME
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(dump_config(config), encoding="utf-8")
    tmp.replace(path)
    return path
