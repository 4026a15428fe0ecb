"""Named presets of a recipe's config: each a function that builds a fresh config."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from seqkit.config.errors import ConfigError, UnknownPresetError

ConfigT = TypeVar("ConfigT")


@dataclass(frozen=True, kw_only=True)
class Preset(Generic[ConfigT]):
    """One named starting point for a recipe's config."""

    name: str
    """What users pass to ``--preset``."""

    description: str
    """One line shown by ``--list-presets``."""

    factory: Callable[[], ConfigT]
    """Builds a fresh config each call, so callers may change it freely."""


class PresetRegistry(Generic[ConfigT]):
    """The presets of one recipe, in registration order.

    One instance per recipe is registered in the container (keyed by the recipe, e.g.
    ``"lm.train"``); extensions resolve it and :meth:`register` their own presets.
    """

    def __init__(self, recipe: str, config_type: type[ConfigT], *, default: str) -> None:
        self.recipe = recipe
        """The recipe these presets configure, e.g. ``lm.train``."""

        self.config_type = config_type
        """The config dataclass every preset builds."""

        self.default = default
        """The preset used when ``--preset`` is not given."""

        self._presets: dict[str, Preset[ConfigT]] = {}

    def register(self, name: str, factory: Callable[[], ConfigT], description: str) -> None:
        """Add a preset; a name already taken replaces the earlier one (extensions may)."""
        self._presets[name] = Preset(name=name, description=description, factory=factory)

    def names(self) -> list[str]:
        """Every preset name, in registration order."""
        return list(self._presets)

    def presets(self) -> list[Preset[ConfigT]]:
        """Every preset, in registration order."""
        return list(self._presets.values())

    def create(self, name: str | None = None) -> ConfigT:
        """A fresh config from preset ``name`` (the default preset if ``None``)."""
        name = self.default if name is None else name
        preset = self._presets.get(name)
        if preset is None:
            close = difflib.get_close_matches(name, self._presets, n=1, cutoff=0.5)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise UnknownPresetError(
                f"Recipe '{self.recipe}' has no preset '{name}'.{hint} Available: "
                f"{', '.join(self._presets) or 'none'} (see --list-presets)."
            )
        config = preset.factory()
        if not isinstance(config, self.config_type):
            raise ConfigError(
                f"Preset '{name}' of recipe '{self.recipe}' built a "
                f"{type(config).__name__}, not a {self.config_type.__name__}; fix the preset."
            )
        return config

    def describe(self) -> str:
        """The text printed by ``--list-presets``."""
        width = max((len(n) for n in self._presets), default=0)
        lines = []
        for preset in self._presets.values():
            marker = " (default)" if preset.name == self.default else ""
            lines.append(f"{preset.name:<{width}}  {preset.description}{marker}")
        return "\n".join(lines)
