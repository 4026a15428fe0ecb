"""Train and eval units made from a loss function: what every recipe's units share."""

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
class LossTrainUnit(TrainUnit[BatchT]):
    """Trains ``model`` on ``loss`` (summed over the batch's targets)."""

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


@final
class LossEvalUnit(EvalUnit[BatchT]):
    """Validation loss of ``model`` (the trainer derives perplexity from it)."""

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
