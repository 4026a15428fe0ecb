"""What a training run reports when it ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from torch import nn

StopReason = Literal["max_steps", "max_epochs", "wall_time", "signal", "early_stopping"]


@dataclass(kw_only=True)
class TrainSummary:
    """How a :meth:`Trainer.run` ended."""

    step: int
    """Optimizer steps completed (including those before a resume)."""

    epoch: int
    """Completed passes over the data."""

    stop_reason: StopReason
    """Why training stopped."""

    num_skipped_steps: int
    """Steps skipped because of a non-finite loss or gradient norm."""

    resumed_from: int | None
    """Step of the checkpoint the run resumed from."""

    corrupt_checkpoints: list[str] = field(default_factory=list)
    """Checkpoints found corrupt on resume (each with its reason)."""

    last_metrics: dict[str, float] = field(default_factory=dict)
    """The last recorded training metrics."""

    valid_metrics: dict[str, float] = field(default_factory=dict)
    """The last validation metrics."""


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module under a DDP/FSDP-style wrapper (one exposing ``.module``)."""
    inner = getattr(model, "module", None)
    return inner if isinstance(inner, nn.Module) else model
