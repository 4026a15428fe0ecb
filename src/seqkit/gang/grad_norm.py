"""Gradient-norm clipping that sees the whole model when tensor parallelism splits it."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import Module

from seqkit.gang.gang import Gang, ReduceOperation
from seqkit.gang.state_dict import unwrap_model
from seqkit.gang.tensor_parallel import ShardedModule


def clip_grad_norm(model: Module, params: Sequence[Tensor], max_norm: float) -> Tensor:
    """Scale the gradients of ``params`` so their total norm is at most ``max_norm``.

    Returns the total norm before clipping, that of the full (unsharded) model: under
    tensor parallelism the squared norms of sharded slices are summed over the TP gang
    and replicated parameters count once, so every rank applies the same scale (a
    collective then: every TP rank must call it). DDP/FSDP2 models and plain ones go to
    :func:`torch.nn.utils.clip_grad_norm_` (FSDP2's DTensor gradients reduce there).
    """
    sharded: dict[int, Gang] = {}
    for module in unwrap_model(model).modules():
        if isinstance(module, ShardedModule):
            sharded.update((id(p), module.gang) for p in module.sharded_parameters())
    if not sharded:
        return nn.utils.clip_grad_norm_(params, max_norm)
    tp_gang = next(iter(sharded.values()))
    grads = [p.grad for p in params if p.grad is not None]
    sliced = [p.grad for p in params if p.grad is not None and id(p) in sharded]
    replicated = [p.grad for p in params if p.grad is not None and id(p) not in sharded]
    device = grads[0].device if grads else tp_gang.device
    sliced_sq = _squared_sum(sliced, device)
    tp_gang.all_reduce(sliced_sq, ReduceOperation.SUM)
    total = (sliced_sq + _squared_sum(replicated, device)).sqrt()
    scale = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for grad in grads:
        grad.mul_(scale.to(grad.dtype))
    return total


def _squared_sum(grads: Sequence[Tensor], device: torch.device) -> Tensor:
    total = torch.zeros((), dtype=torch.float32, device=device)
    for grad in grads:
        total += grad.detach().float().square().sum()
    return total
