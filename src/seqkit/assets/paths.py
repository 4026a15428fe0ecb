"""Where cards and the download cache live by default (package, env variables, home)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ASSET_DIR_ENV: Final = "SEQKIT_ASSET_DIR"
USER_ASSET_DIR_ENV: Final = "SEQKIT_USER_ASSET_DIR"
CACHE_DIR_ENV: Final = "SEQKIT_CACHE_DIR"
ASSET_ENV_ENV: Final = "SEQKIT_ASSET_ENV"
OFFLINE_ENV: Final = "SEQKIT_OFFLINE"

CHECKOUT_CARDS: Final = "checkout"
"""The subfolder of the package cards whose cards point into the source repository (for
example at the bundled ``datasets/``); an installed wheel skips it."""


@dataclass(frozen=True, kw_only=True)
class PackageCards:
    """The cards shipped with seqkit."""

    directory: Path
    """The directory holding the shipped ``*.yaml`` cards."""

    root: Path
    """The directory their relative paths may reach: the repository in a source checkout
    (so demo cards can name the bundled ``datasets/``), else the cards directory."""

    checkout: bool
    """Whether this is a source checkout; cards under :data:`CHECKOUT_CARDS` name files of
    the repository and are read only then."""


def find_package_cards(module_file: Path | None = None) -> PackageCards | None:
    """Locate the shipped cards, in an installed wheel or in an editable source checkout.

    A wheel carries them in ``seqkit/assets/cards/`` (installed by CMake); a source checkout
    keeps them in ``<repo>/assets/cards/`` beside ``src/``.
    """
    here = Path(module_file or __file__).resolve().parent
    installed = here / "cards"
    if installed.is_dir():
        return PackageCards(directory=installed, root=installed, checkout=False)
    # src/seqkit/assets/paths.py -> the repository root is three levels above this folder.
    repo = here.parents[2]
    checkout = repo / "assets" / "cards"
    if checkout.is_dir() and (repo / "src" / "seqkit").is_dir():
        return PackageCards(directory=checkout, root=repo, checkout=True)
    return None


def _env_path(environ: Mapping[str, str], name: str) -> Path | None:
    value = environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def system_card_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """``SEQKIT_ASSET_DIR``, or ``None`` when unset."""
    return _env_path(os.environ if environ is None else environ, ASSET_DIR_ENV)


def user_card_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``SEQKIT_USER_ASSET_DIR``, else ``$XDG_CONFIG_HOME/seqkit/assets`` or ``~/.config/...``."""
    environ = os.environ if environ is None else environ
    explicit = _env_path(environ, USER_ASSET_DIR_ENV)
    if explicit is not None:
        return explicit
    config = _env_path(environ, "XDG_CONFIG_HOME") or Path.home() / ".config"
    return config / "seqkit" / "assets"


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``SEQKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/seqkit/assets`` or ``~/.cache/...``."""
    environ = os.environ if environ is None else environ
    explicit = _env_path(environ, CACHE_DIR_ENV)
    if explicit is not None:
        return explicit
    cache = _env_path(environ, "XDG_CACHE_HOME") or Path.home() / ".cache"
    return cache / "seqkit" / "assets"


def is_offline(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``SEQKIT_OFFLINE`` is set to a true value (``1``, ``true``, ``yes``)."""
    environ = os.environ if environ is None else environ
    return environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def asset_env(environ: Mapping[str, str] | None = None) -> str | None:
    """``SEQKIT_ASSET_ENV``, or ``None`` when unset."""
    environ = os.environ if environ is None else environ
    return environ.get(ASSET_ENV_ENV, "").strip() or None
