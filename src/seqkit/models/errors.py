"""Errors of :mod:`seqkit.models`: unknown families/archs, bad checkpoints, bad configs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from seqkit.errors import SeqkitError


class ModelError(SeqkitError):
    """Base class of the errors of :mod:`seqkit.models`."""


class UnknownModelFamilyError(ModelError, LookupError):
    """No model family is registered under the requested name."""

    def __init__(self, name: str, known: Sequence[str], hint: str = "") -> None:
        self.name = name
        super().__init__(
            f"Unknown model family '{name}'{hint}; registered families: "
            f"{', '.join(sorted(known)) or 'none'}."
        )


class UnknownModelArchError(ModelError, LookupError):
    """The family has no architecture of the requested name."""

    def __init__(self, family: str, arch: str, known: Sequence[str], hint: str = "") -> None:
        self.family = family
        self.arch = arch
        super().__init__(
            f"Model family '{family}' has no architecture '{arch}'{hint}; "
            f"known: {', '.join(known)}."
        )


class ModelConfigError(ModelError, ValueError):
    """A model config (from a card, model.yaml or config.json) is invalid."""


class CheckpointError(ModelError, ValueError):
    """A weights file or directory cannot be read, or refuses to load safely."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"Cannot load model weights from {path}: {reason}")


class StateDictMismatchError(ModelError, ValueError):
    """The checkpoint's tensors do not match the model's parameters."""

    def __init__(
        self,
        source: str,
        missing: Sequence[str],
        unexpected: Sequence[str],
        wrong_shape: Sequence[tuple[str, tuple[int, ...], tuple[int, ...]]],
    ) -> None:
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.wrong_shape = list(wrong_shape)
        lines = [f"The weights in {source} do not match the model:"]
        if missing:
            lines.append(f"  missing ({len(missing)}): {', '.join(_head(missing))}")
        if unexpected:
            lines.append(f"  unexpected ({len(unexpected)}): {', '.join(_head(unexpected))}")
        for key, expected, got in self.wrong_shape[:20]:
            lines.append(f"  shape of {key}: model {list(expected)}, checkpoint {list(got)}")
        if len(self.wrong_shape) > 20:
            lines.append(f"  ... and {len(self.wrong_shape) - 20} more shape mismatches")
        lines.append("Check that the card's model_arch/model_config match the checkpoint.")
        super().__init__("\n".join(lines))


def _head(keys: Sequence[str], n: int = 20) -> list[str]:
    keys = sorted(keys)
    return keys[:n] + ([f"... ({len(keys) - n} more)"] if len(keys) > n else [])
