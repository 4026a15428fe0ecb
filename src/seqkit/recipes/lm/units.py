"""The loss of the language-model recipes: next-token cross-entropy."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqkit.data import MaskedBatch, PackedBatch
from seqkit.nn import BatchLayout

LmBatch = PackedBatch | MaskedBatch


def lm_loss(model: nn.Module, batch: LmBatch, device: torch.device) -> tuple[Tensor, int]:
    """Summed next-token cross-entropy of ``batch`` and its number of targets.

    Packed rows attend within their documents only; padded rows ignore padding; for
    instruction batches only response tokens are in the loss.
    """
    seqs = batch.seqs.to(device, non_blocking=True)
    targets = batch.targets.to(device, non_blocking=True)
    if isinstance(batch, PackedBatch):
        layout = BatchLayout.packed(batch.doc_lens)
        logits = model(seqs, layout)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="sum")
        return loss, batch.num_targets
    layout = BatchLayout(batch.seq_lens.to(device))
    logits = model(seqs, layout)
    mask = batch.loss_mask.to(device)
    losses = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="none")
    return (losses * mask.flatten()).sum(), batch.num_targets
