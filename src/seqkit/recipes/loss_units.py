"""The unit every recipe trains and validates with: a model and a loss function."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, final

from torch import Tensor, nn
from typing_extensions import override

from seqkit.trainer.units import EvalUnit, TrainUnit

BatchT = TypeVar("BatchT")

LossFn = Callable[[nn.Module, BatchT], tuple[Tensor, int]]
"""``loss(model, batch) -> (summed loss, number of targets)``."""


@final
class LossUnit(TrainUnit[BatchT], EvalUnit[BatchT]):
    """``loss`` (summed over the batch's targets) of ``model``: a train unit, and an eval
    unit whose mean loss the trainer turns into perplexity."""

    def __init__(self, model: nn.Module, loss: LossFn[BatchT]) -> None:
        self._model = model
        self._loss = loss

    @property
    @override
    def model(self) -> nn.Module:
        return self._model

    @override
    def __call__(self, batch: BatchT) -> tuple[Tensor, int]:
        return self._loss(self._model, batch)

    @override
    def extra_metrics(self) -> dict[str, float]:
        """The loss function's ``extra_metrics()``, if it has one (e.g. preference rewards)."""
        metrics = getattr(self._loss, "extra_metrics", None)
        return dict(metrics()) if callable(metrics) else {}
