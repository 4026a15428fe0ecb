"""Errors raised by :mod:`seqkit.text`: tokenizer loading, encoding, training, preprocessing."""

from __future__ import annotations

from pathlib import Path

from seqkit.errors import SeqkitError


class TextError(SeqkitError):
    """Base class of the text component's errors."""


class TokenizerLoadError(TextError, ValueError):
    """A tokenizer could not be found or read; the message names what was asked for."""

    def __init__(self, name_or_path: str, reason: str) -> None:
        self.name_or_path = name_or_path
        self.reason = reason
        super().__init__(f"Cannot load tokenizer {name_or_path!r}: {reason}")


class UnknownTokenizerFamilyError(TextError, LookupError):
    """A card or call named a tokenizer family that is not registered."""

    def __init__(self, family: str, known: list[str], *, where: str | None = None) -> None:
        self.family = family
        self.known = known
        origin = f" (from {where})" if where else ""
        super().__init__(
            f"Unknown tokenizer family {family!r}{origin}. Registered families: "
            f"{', '.join(sorted(known)) or 'none'}; fix the `tokenizer_family:` field or "
            "register the family from an extension."
        )


class EncodingModeError(TextError, ValueError):
    """``create_encoder`` received a task, mode or language it cannot honour."""


class ChatTemplateError(TextError, ValueError):
    """A chat template is missing, cannot be rendered, or raised on the conversation."""


class TokenizerTrainingError(TextError, RuntimeError):
    """Training a tokenizer failed; the message names the corpus or option at fault."""


class PreprocessError(TextError, RuntimeError):
    """Binarizing a corpus failed; nothing was left at the output path."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        self.path = path
        super().__init__(message)
