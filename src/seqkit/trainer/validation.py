"""Validation: the mean loss of an eval unit over a reader, summed across ranks, and the
metrics of any validation scorers."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import torch

from seqkit.gang import Gang, ReduceOperation
from seqkit.metrics import perplexity
from seqkit.trainer.errors import TrainerError
from seqkit.trainer.units import BatchT, DataReader, EvalUnit, ValidationScorer


@torch.no_grad()
def evaluate(
    unit: EvalUnit[BatchT],
    reader: DataReader[BatchT],
    gang: Gang,
    autocast: Callable[[], contextlib.AbstractContextManager[object]],
    *,
    scorers: Sequence[ValidationScorer] = (),
    step: int = 0,
) -> dict[str, float]:
    """``loss``, ``ppl`` and ``num_targets`` of ``unit`` over one pass of ``reader``, and
    the metrics of ``scorers`` (called with ``step``) after that pass.

    The model is put in eval mode for the pass and the scorers, and back in train mode
    afterwards.
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
        extra = _score(scorers, step, gang, autocast)
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
    metrics = {"loss": mean, "ppl": perplexity(mean), "num_targets": num_targets}
    clash = sorted(set(metrics) & set(extra))
    if clash:
        raise TrainerError(f"Validation scorers return {clash}, which the loss pass records.")
    metrics.update(extra)
    return metrics


def _score(
    scorers: Sequence[ValidationScorer],
    step: int,
    gang: Gang,
    autocast: Callable[[], contextlib.AbstractContextManager[object]],
) -> dict[str, float]:
    """The scorers' metrics, with rank 0's values broadcast so every rank agrees."""
    metrics: dict[str, float] = {}
    for scorer in scorers:
        with autocast():
            values = scorer(step, gang)
        for name, value in values.items():
            if name in metrics:
                raise TrainerError(f"Two validation scorers return the metric {name!r}.")
            metrics[name] = float(value)
    if gang.size > 1 and metrics:
        names = sorted(metrics)
        packed = torch.tensor(
            [metrics[name] for name in names], dtype=torch.float64, device=gang.device
        )
        gang.broadcast(packed, source_rank=0)
        metrics = dict(zip(names, packed.tolist(), strict=True))
    return metrics
