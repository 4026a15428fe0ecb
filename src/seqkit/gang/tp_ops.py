"""Autograd-aware collectives between tensor-parallel ranks (Megatron-LM, Shoeybi et al.,
2019): each forward collective has the matching collective in backward."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd import Function

from seqkit.gang.gang import Gang, ReduceOperation


def copy_to_tp(x: Tensor, gang: Gang) -> Tensor:
    """Identity forward; all-reduce (sum) of the gradient backward. Used where a replicated
    activation enters column-sharded layers, whose ranks each produce a partial gradient."""
    if gang.size == 1:
        return x
    out: Tensor = _CopyToTP.apply(x, gang)  # type: ignore[no-untyped-call]
    return out


def reduce_from_tp(x: Tensor, gang: Gang) -> Tensor:
    """All-reduce (sum) forward; identity backward. Sums the partial outputs of
    row-sharded layers."""
    if gang.size == 1:
        return x
    out: Tensor = _ReduceFromTP.apply(x, gang)  # type: ignore[no-untyped-call]
    return out


def gather_from_tp(x: Tensor, gang: Gang) -> Tensor:
    """Concatenate the ranks' last dimensions forward; keep this rank's slice backward."""
    if gang.size == 1:
        return x
    out: Tensor = _GatherFromTP.apply(x, gang)  # type: ignore[no-untyped-call]
    return out


def scatter_to_tp(x: Tensor, gang: Gang) -> Tensor:
    """Keep this rank's slice of the last dimension forward; gather the gradient backward."""
    if gang.size == 1:
        return x
    out: Tensor = _ScatterToTP.apply(x, gang)  # type: ignore[no-untyped-call]
    return out


def _all_reduce(x: Tensor, gang: Gang) -> Tensor:
    x = x.contiguous().clone()
    gang.all_reduce(x, ReduceOperation.SUM)
    return x


def _gather_last(x: Tensor, gang: Gang) -> Tensor:
    parts = [torch.empty_like(x) for _ in range(gang.size)]
    gang.all_gather_to_list(parts, x.contiguous())
    return torch.cat(parts, dim=-1)


def _slice_last(x: Tensor, gang: Gang) -> Tensor:
    width = x.size(-1)
    if width % gang.size != 0:
        raise ValueError(
            f"The last dimension ({width}) must be divisible by the tensor-parallel size "
            f"({gang.size})."
        )
    return x.chunk(gang.size, dim=-1)[gang.rank].contiguous()


# The Function subclasses below are torch's documented extension point; their signatures
# are dictated by torch.autograd and stay loosely typed.
class _CopyToTP(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, gang: Gang) -> Tensor:
        ctx.gang = gang
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return _all_reduce(grad, ctx.gang), None


class _ReduceFromTP(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, gang: Gang) -> Tensor:
        return _all_reduce(x, gang)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return grad, None


class _GatherFromTP(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, gang: Gang) -> Tensor:
        ctx.gang = gang
        return _gather_last(x, gang)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return _slice_last(grad, ctx.gang), None


class _ScatterToTP(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, gang: Gang) -> Tensor:
        ctx.gang = gang
        return _slice_last(x, gang)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return _gather_last(grad, ctx.gang), None
