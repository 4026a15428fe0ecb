"""How a training run's config is resolved and saved: presets, files, overrides, resume.

Typed arguments in, a config out; the command line that fills them in is
``seqkit.cli.commands.recipe``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from seqkit.config import PresetRegistry, dump_config, load_config, resolve_config
from seqkit.recipes.errors import RecipeError

ConfigT = TypeVar("ConfigT")

CONFIG_FILE_NAME = "config.yaml"
"""The resolved config of a run, written into its output directory."""


@dataclass(frozen=True, kw_only=True)
class RecipeInvocation(Generic[ConfigT]):
    """What the recipe arguments resolved to."""

    output_dir: Path
    """Where the run writes everything."""

    config: ConfigT
    """The fully resolved config."""

    resumed_config: bool
    """Whether ``OUTPUT_DIR`` already held a config (the run continues an earlier one)."""


def resolve_config_from(
    presets: PresetRegistry[ConfigT],
    *,
    preset: str | None = None,
    config_files: Sequence[Path] = (),
    overrides: Sequence[str] = (),
) -> ConfigT:
    """Preset (default: the registry's default), then config files, then overrides."""
    base = presets.create(preset)
    return resolve_config(base, config_files=list(config_files), overrides=list(overrides))


def resolve_invocation(
    presets: PresetRegistry[ConfigT],
    *,
    output_dir: Path | None,
    preset: str | None = None,
    config_files: Sequence[Path] = (),
    overrides: Sequence[str] = (),
) -> RecipeInvocation[ConfigT]:
    """Resolve the config for a run in ``output_dir``.

    A directory that already holds ``config.yaml`` is a run to resume: with no preset,
    file or override given, its saved config is used as is; otherwise the new settings are
    applied on top of the saved config (so ``train.max_steps=2000`` extends a run).
    """
    if output_dir is None:
        raise RecipeError("OUTPUT_DIR is required (where the run writes its files).")
    saved = output_dir / CONFIG_FILE_NAME
    if saved.is_file():
        base = load_config(saved, presets.config_type)
        if preset is not None:
            base = presets.create(preset)
        config = resolve_config(base, config_files=list(config_files), overrides=list(overrides))
        return RecipeInvocation(output_dir=output_dir, config=config, resumed_config=True)
    config = resolve_config_from(
        presets, preset=preset, config_files=config_files, overrides=overrides
    )
    return RecipeInvocation(output_dir=output_dir, config=config, resumed_config=False)


def save_config(config: object, output_dir: Path) -> Path:
    """Write the resolved config (commented YAML) into ``output_dir`` atomically."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / CONFIG_FILE_NAME
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(dump_config(config), encoding="utf-8")
    tmp.replace(path)
    return path
