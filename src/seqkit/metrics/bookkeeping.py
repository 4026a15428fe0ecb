"""Loss, perplexity and throughput bookkeeping for training and validation."""

from __future__ import annotations

import math
import time
from typing import Final

WALL_CLOCK_METRICS: Final = frozenset(
    {
        "elapsed_s",
        "step_time_s",
        "targets_per_s",
        "data_wait_s",
        "data_wait_share",
        "model_tflops_per_s",
        "mfu",
    }
)
"""Metric names that depend on the clock; two identical runs differ only in these."""


def perplexity(loss: float) -> float:
    """``exp(loss)`` for a per-target cross-entropy in nats, ``inf`` on overflow."""
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf


class LossMeter:
    """Accumulates a summed loss over targets and reports the mean and its perplexity."""

    def __init__(self) -> None:
        self.loss_sum = 0.0
        self.num_targets = 0.0

    def update(self, loss_sum: float, num_targets: float) -> None:
        """Add the loss summed over ``num_targets`` targets."""
        self.loss_sum += loss_sum
        self.num_targets += num_targets

    @property
    def mean(self) -> float:
        """Mean loss per target (``nan`` when nothing was added)."""
        return self.loss_sum / self.num_targets if self.num_targets else math.nan

    def values(self) -> dict[str, float]:
        """``loss``, ``ppl`` and ``num_targets``."""
        mean = self.mean
        return {"loss": mean, "ppl": perplexity(mean), "num_targets": self.num_targets}


class Stopwatch:
    """Wall-clock time since creation, plus the time since the last ``lap()``."""

    def __init__(self, offset_s: float = 0.0) -> None:
        self._start = time.perf_counter() - offset_s
        self._lap = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since creation (plus the offset, e.g. time spent before a resume)."""
        return time.perf_counter() - self._start

    def lap(self) -> float:
        """Seconds since the previous lap (or creation)."""
        now = time.perf_counter()
        lap, self._lap = now - self._lap, now
        return lap
