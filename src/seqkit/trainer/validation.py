"""Validation: the mean loss of an eval unit over a reader, summed across ranks."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch

from seqkit.gang import Gang, ReduceOperation
from seqkit.metrics import perplexity
from seqkit.trainer.errors import TrainerError
from seqkit.trainer.units import BatchT, DataReader, EvalUnit


@torch.no_grad()
def evaluate(
    unit: EvalUnit[BatchT],
    reader: DataReader[BatchT],
    gang: Gang,
    autocast: Callable[[], contextlib.AbstractContextManager[object]],
) -> dict[str, float]:
    """``loss``, ``ppl`` and ``num_targets`` of ``unit`` over one pass of ``reader``.

    The model is put in eval mode for the pass and back in train mode afterwards.
    """
    model = unit.model
    model.eval()
    reader.reset()
    total = torch.zeros(2, device=gang.device)
    try:
        with autocast():
            for batch in reader:
                loss, n = unit(batch)
                total[0] += loss.float()
                total[1] += n
    finally:
        model.train()
    gang.all_reduce(total, ReduceOperation.SUM)
    loss_sum, num_targets = total.tolist()
    if num_targets == 0:
        raise TrainerError(
            "The validation reader yielded no targets; check the validation data and its "
            "sharding across ranks."
        )
    mean = loss_sum / num_targets
    return {"loss": mean, "ppl": perplexity(mean), "num_targets": num_targets}
