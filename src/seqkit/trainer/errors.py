"""Errors raised by `seqkit.trainer`."""

from __future__ import annotations

from collections.abc import Sequence

from seqkit.errors import SeqkitError


class TrainerError(SeqkitError):
    """Training cannot start or continue; the message names the cause and the fix."""


class TrainerConfigError(TrainerError, ValueError):
    """A `TrainerConfig` field is invalid."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"trainer.{field}: {message}")
        self.field = field


class NonFiniteError(TrainerError, FloatingPointError):
    """A loss or gradient norm was NaN/inf; the weights were not touched by that step."""

    def __init__(self, what: str, *, step: int, ranks: Sequence[int], consecutive: int) -> None:
        where = f"rank {ranks[0]}" if len(ranks) == 1 else f"ranks {list(ranks)}"
        super().__init__(
            f"Non-finite {what} at step {step} on {where} ({consecutive} in a row); the step "
            "was not applied and the last checkpoint is intact. Lower the learning rate, "
            "enable gradient clipping (trainer.max_grad_norm), or set "
            "trainer.max_consecutive_nonfinite > 0 to skip such steps."
        )
        self.what = what
        self.step = step
        self.ranks = list(ranks)
