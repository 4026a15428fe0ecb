"""How a tokenizer family is registered: keyed ``TokenizerFamily`` entries in the container."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, final

from seqkit.text.tokenizer import TextTokenizer


class TokenizerLoader(Protocol):
    """Loads a tokenizer from a local file or directory (``None``: the family's built-in)."""

    def __call__(self, path: Path | None) -> TextTokenizer: ...


def _never(_: Path) -> bool:
    return False


@final
@dataclass(frozen=True, kw_only=True)
class TokenizerFamily:
    """A way to load tokenizers.

    Register it keyed by name: ``container.register(TokenizerFamily, factory, key=name)``.
    """

    name: str
    """The family's key, used by cards in ``tokenizer_family:``."""

    loader: TokenizerLoader
    """Builds a tokenizer from a path (or from nothing, when :attr:`builtin` is true)."""

    recognizes: Callable[[Path], bool] = _never
    """Whether a local path given without a card looks like this family's format."""

    builtin: bool = False
    """Whether the family's name alone loads a tokenizer (``"byte"``, ``"char"``)."""
