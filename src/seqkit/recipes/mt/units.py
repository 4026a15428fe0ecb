"""Train and eval units of ``seqkit mt train``: label-smoothed cross-entropy."""

from __future__ import annotations

from typing import final

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from typing_extensions import override

from seqkit.nn import BatchLayout
from seqkit.recipes.mt.parallel_data import PairBatch
from seqkit.trainer.units import EvalUnit, TrainUnit


def translation_loss(
    model: nn.Module, batch: PairBatch, device: torch.device, *, label_smoothing: float
) -> tuple[Tensor, int]:
    """Summed (label-smoothed) cross-entropy over the non-padding target tokens."""
    source = batch.source.to(device)
    target_in = batch.target_in.to(device)
    target_out = batch.target_out.to(device)
    logits = model(
        source,
        BatchLayout(batch.source_lens.to(device)),
        target_in,
        BatchLayout(batch.target_lens.to(device)),
    )
    losses = F.cross_entropy(
        logits.flatten(0, 1).float(),
        target_out.flatten(),
        reduction="none",
        label_smoothing=label_smoothing,
    )
    steps = torch.arange(target_out.shape[1], device=device)
    mask = steps[None, :] < batch.target_lens.to(device)[:, None]
    return (losses * mask.flatten()).sum(), batch.num_targets


@final
class TranslationTrainUnit(TrainUnit[PairBatch]):
    """Teacher-forced training with label smoothing."""

    def __init__(self, model: nn.Module, device: torch.device, *, label_smoothing: float) -> None:
        self._model = model
        self._device = device
        self._label_smoothing = label_smoothing

    @property
    @override
    def model(self) -> nn.Module:
        return self._model

    @override
    def __call__(self, batch: PairBatch) -> tuple[Tensor, int]:
        return translation_loss(
            self._model, batch, self._device, label_smoothing=self._label_smoothing
        )


@final
class TranslationEvalUnit(EvalUnit[PairBatch]):
    """Validation loss without label smoothing, so its perplexity is a real one."""

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        self._model = model
        self._device = device

    @property
    @override
    def model(self) -> nn.Module:
        return self._model

    @override
    def __call__(self, batch: PairBatch) -> tuple[Tensor, int]:
        return translation_loss(self._model, batch, self._device, label_smoothing=0.0)
