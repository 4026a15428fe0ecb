"""What a model needs to know about a tokenizer's vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import final


@final
@dataclass(frozen=True, kw_only=True)
class VocabularyInfo:
    """Size and special-token indices of a vocabulary (``None`` where the token is absent)."""

    size: int
    """Number of ids; every id is in ``[0, size)``."""

    unk_idx: int | None = None
    """Id of the unknown token."""

    bos_idx: int | None = None
    """Id of the beginning-of-sequence token."""

    eos_idx: int | None = None
    """Id of the end-of-sequence token."""

    pad_idx: int | None = None
    """Id of the padding token (models use it as ``pad_value`` when collating)."""

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise ValueError(f"VocabularyInfo.size must be positive, got {self.size}.")
        for field in ("unk_idx", "bos_idx", "eos_idx", "pad_idx"):
            idx = getattr(self, field)
            if idx is not None and not 0 <= idx < self.size:
                raise ValueError(
                    f"VocabularyInfo.{field}={idx} is outside the vocabulary [0, {self.size})."
                )
