"""Errors of the assets component; each message names the card, field and file, and the fix."""

from __future__ import annotations

from collections.abc import Sequence

from seqkit.errors import SeqkitError


class AssetError(SeqkitError):
    """Base class of every asset-card and download failure."""


class AssetCardError(AssetError, ValueError):
    """A card is malformed: missing ``name``, bad field type, ``base`` missing or cyclic."""

    def __init__(
        self,
        message: str,
        *,
        card: str | None = None,
        field: str | None = None,
        source: str | None = None,
        line: int | None = None,
    ) -> None:
        self.reason = message
        """The message without its location prefix."""
        self.card = card
        """The card's name, when known."""
        self.field = field
        """The offending field, when the fault is in one."""
        self.source = source
        """The file that defines the card or field."""
        self.line = line
        """The 1-based line in :attr:`source`."""
        parts = []
        if source is not None:
            parts.append(source if line is None else f"{source}:{line}")
        if card is not None:
            parts.append(f"card '{card}'" + (f", field '{field}'" if field else ""))
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class AssetCardNotFoundError(AssetError, LookupError):
    """No card has the requested name; the message suggests the closest names."""

    def __init__(self, name: str, suggestions: Sequence[str], *, is_path: bool = False) -> None:
        self.name = name
        """The name (or card file path) that was asked for."""
        self.suggestions = list(suggestions)
        """Known names close to :attr:`name`."""
        if is_path:
            super().__init__(
                f"The card file {name} does not exist; check the path, or pass a card name "
                "('seqkit assets list' shows them)."
            )
            return
        hint = (
            f" Did you mean {', '.join(repr(s) for s in self.suggestions)}?"
            if self.suggestions
            else ""
        )
        super().__init__(
            f"No asset card named '{name}'.{hint} Run 'seqkit assets list' to see every card, "
            "or pass the path of a local checkpoint or card file instead."
        )


class AssetPathError(AssetError, ValueError):
    """A card path is malformed, escapes its allowed directory, or does not exist."""


class AssetDownloadError(AssetError, OSError):
    """A download failed (HTTP error, connection dropped, too many retries)."""


class AssetChecksumError(AssetDownloadError):
    """A file's sha256 does not match the card's ``<field>_sha256``."""


class AssetOfflineError(AssetDownloadError):
    """``SEQKIT_OFFLINE=1`` is set and the asset is not in the cache."""


class AssetArchiveError(AssetError, ValueError):
    """An archive holds a member that would land outside the extraction directory."""
