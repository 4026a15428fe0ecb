"""Early stopping on a validation metric."""

from __future__ import annotations

import math
from collections.abc import Mapping

from seqkit.trainer.config import EarlyStoppingConfig
from seqkit.trainer.errors import TrainerError


class EarlyStopper:
    """Tracks the best value of a metric and how many validations failed to improve it."""

    def __init__(self, config: EarlyStoppingConfig) -> None:
        self.config = config
        self.best = math.inf if config.mode == "min" else -math.inf
        self.num_bad = 0

    def update(self, metrics: Mapping[str, float]) -> bool:
        """Feed one validation's metrics; True when training should stop."""
        c = self.config
        if c.metric not in metrics:
            raise TrainerError(
                f"trainer.early_stopping.metric {c.metric!r} is not a validation metric; "
                f"choose one of {sorted(metrics)}."
            )
        value = metrics[c.metric]
        improved = (
            value < self.best - c.min_delta if c.mode == "min" else value > self.best + c.min_delta
        )
        if improved:
            self.best, self.num_bad = value, 0
        else:
            self.num_bad += 1
        return self.num_bad >= c.patience

    def state_dict(self) -> dict[str, object]:
        """Best value and bad-validation count."""
        return {"best": self.best, "num_bad": self.num_bad}

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        """Undo :meth:`state_dict`."""
        self.best = float(str(state["best"]))
        self.num_bad = int(str(state["num_bad"]))
