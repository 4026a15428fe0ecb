"""The loss of ``seqkit mt train``: label-smoothed cross-entropy."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqkit.data import PairBatch
from seqkit.nn import BatchLayout


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
