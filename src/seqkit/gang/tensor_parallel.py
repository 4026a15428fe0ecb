"""Tensor-parallel layers: column/row-sharded linears and a vocabulary-sharded embedding.

Each layer holds only its rank's slice of the full weight; ``from_*`` builds one from a full
module, and ``full_state_dict()`` / ``load_full_state_dict()`` convert between the slice and
the full weights (used by the consolidated state-dict helpers).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TypeVar, final

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Embedding, Linear, Module, Parameter
from typing_extensions import override

from seqkit.gang.errors import ShardingError
from seqkit.gang.gang import Gang
from seqkit.gang.tp_ops import copy_to_tp, gather_from_tp, reduce_from_tp, scatter_to_tp


class ShardedModule(Module):
    """A module whose parameters are slices of a full module's, split over ``gang``."""

    gang: Gang

    def full_state_dict(self) -> dict[str, Tensor]:
        """The full (unsharded) parameters, gathered from every rank (a collective)."""
        raise NotImplementedError

    def load_full_state_dict(self, state_dict: dict[str, Tensor]) -> None:
        """Copy this rank's slice of the full parameters in ``state_dict``."""
        raise NotImplementedError

    def sharded_parameters(self) -> list[Parameter]:
        """The parameters that are slices (the rest are replicated on every rank)."""
        return list(self.parameters(recurse=False))


def _split(size: int, gang: Gang, what: str) -> int:
    if size % gang.size != 0:
        raise ShardingError(
            f"The {what} ({size}) is not divisible by the tensor-parallel size ({gang.size}); "
            "choose a tp_size that divides it."
        )
    return size // gang.size


def _gather_dim(local: Tensor, gang: Gang, dim: int) -> Tensor:
    parts = [torch.empty_like(local) for _ in range(gang.size)]
    gang.all_gather_to_list(parts, local.detach().contiguous())
    return torch.cat(parts, dim=dim)


class _ShardedLinear(ShardedModule):
    """What the column- and row-sharded linears share: the full sizes, this rank's
    ``weight_shape`` slice of the weight and a bias of ``bias_size`` (zero-initialised)."""

    weight: Parameter
    bias: Parameter | None

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        gang: Gang,
        *,
        weight_shape: tuple[int, int],
        bias_size: int,
        bias: bool,
        device: torch.device | None,
        dtype: torch.dtype | None,
    ) -> None:
        super().__init__()
        self.gang = gang
        self.in_dim, self.out_dim = in_dim, out_dim
        self.weight = Parameter(torch.empty(weight_shape, device=device, dtype=dtype))
        self.bias = Parameter(torch.zeros(bias_size, device=device, dtype=dtype)) if bias else None

    def _repr_with(self, flag: str) -> str:
        return (
            f"in_dim={self.in_dim}, out_dim={self.out_dim}, tp_rank={self.gang.rank}/"
            f"{self.gang.size}, {flag}"
        )


_L = TypeVar("_L", bound=_ShardedLinear)


def _shard_linear(linear: Linear, make: Callable[..., _L]) -> _L:
    """``make(in_dim, out_dim, bias=, device=, dtype=)`` shaped like the full ``linear``,
    loaded with this rank's slice of its weights."""
    w = linear.weight
    layer = make(
        linear.in_features, linear.out_features, bias=linear.bias is not None,
        device=w.device, dtype=w.dtype,
    )  # fmt: skip
    layer.load_full_state_dict(dict(linear.state_dict()))
    return layer


@final
class ColumnShardedLinear(_ShardedLinear):
    """A linear layer whose output features are split over the gang.

    Input is replicated; output is this rank's slice unless ``gather_output`` (then the full
    output, e.g. for a vocabulary projection whose logits the loss needs whole).
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        gang: Gang,
        *,
        bias: bool = True,
        gather_output: bool = False,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        local = _split(out_dim, gang, "number of output features")
        super().__init__(
            in_dim, out_dim, gang, weight_shape=(local, in_dim), bias_size=local,
            bias=bias, device=device, dtype=dtype,
        )  # fmt: skip
        self.gather_output = gather_output

    @staticmethod
    def from_linear(
        linear: Linear, gang: Gang, *, gather_output: bool = False
    ) -> ColumnShardedLinear:
        """Shard the full ``linear`` (every rank passes the same weights)."""
        return _shard_linear(
            linear, partial(ColumnShardedLinear, gang=gang, gather_output=gather_output)
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        y = F.linear(copy_to_tp(x, self.gang), self.weight, self.bias)
        return gather_from_tp(y, self.gang) if self.gather_output else y

    @override
    def full_state_dict(self) -> dict[str, Tensor]:
        full = {"weight": _gather_dim(self.weight, self.gang, 0)}
        if self.bias is not None:
            full["bias"] = _gather_dim(self.bias, self.gang, 0)
        return full

    @override
    def load_full_state_dict(self, state_dict: dict[str, Tensor]) -> None:
        with torch.no_grad():
            self.weight.copy_(state_dict["weight"].chunk(self.gang.size, 0)[self.gang.rank])
            if self.bias is not None:
                self.bias.copy_(state_dict["bias"].chunk(self.gang.size, 0)[self.gang.rank])

    @override
    def extra_repr(self) -> str:
        return self._repr_with(f"gather_output={self.gather_output}")


@final
class RowShardedLinear(_ShardedLinear):
    """A linear layer whose input features are split over the gang; the partial outputs
    are summed over the gang, so the output is replicated. The bias is replicated.

    Its input is this rank's slice (the output of a :class:`ColumnShardedLinear`) unless
    ``scatter_input``.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        gang: Gang,
        *,
        bias: bool = True,
        scatter_input: bool = False,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        local = _split(in_dim, gang, "number of input features")
        super().__init__(
            in_dim, out_dim, gang, weight_shape=(out_dim, local), bias_size=out_dim,
            bias=bias, device=device, dtype=dtype,
        )  # fmt: skip
        self.scatter_input = scatter_input

    @staticmethod
    def from_linear(linear: Linear, gang: Gang, *, scatter_input: bool = False) -> RowShardedLinear:
        """Shard the full ``linear`` (every rank passes the same weights)."""
        return _shard_linear(
            linear, partial(RowShardedLinear, gang=gang, scatter_input=scatter_input)
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        if self.scatter_input:
            x = scatter_to_tp(x, self.gang)
        y = reduce_from_tp(F.linear(x, self.weight), self.gang)
        # The bias is added once, after the sum, not once per rank.
        return y + self.bias if self.bias is not None else y

    @override
    def sharded_parameters(self) -> list[Parameter]:
        return [self.weight]  # the bias is replicated

    @override
    def full_state_dict(self) -> dict[str, Tensor]:
        full = {"weight": _gather_dim(self.weight, self.gang, 1)}
        if self.bias is not None:
            full["bias"] = self.bias.detach().clone()
        return full

    @override
    def load_full_state_dict(self, state_dict: dict[str, Tensor]) -> None:
        with torch.no_grad():
            self.weight.copy_(state_dict["weight"].chunk(self.gang.size, 1)[self.gang.rank])
            if self.bias is not None:
                self.bias.copy_(state_dict["bias"])

    @override
    def extra_repr(self) -> str:
        return self._repr_with(f"scatter_input={self.scatter_input}")


@final
class VocabShardedEmbedding(ShardedModule):
    """An embedding table whose rows (the vocabulary) are split over the gang.

    Each rank looks up the tokens in its row range, writes zeros for the others, and the
    gang sums the results, so the output is replicated.
    """

    def __init__(
        self,
        num_embeddings: int,
        dim: int,
        gang: Gang,
        *,
        pad_idx: int | None = None,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.gang = gang
        self.num_embeddings, self.dim, self.pad_idx = num_embeddings, dim, pad_idx
        local = _split(num_embeddings, gang, "vocabulary size")
        self.begin, self.end = gang.rank * local, (gang.rank + 1) * local
        self.weight = Parameter(torch.empty(local, dim, device=device, dtype=dtype))

    @staticmethod
    def from_embedding(embed: Embedding, gang: Gang) -> VocabShardedEmbedding:
        """Shard the full ``embed`` (every rank passes the same weights)."""
        w = embed.weight
        layer = VocabShardedEmbedding(
            embed.num_embeddings, embed.embedding_dim, gang, pad_idx=embed.padding_idx,
            device=w.device, dtype=w.dtype,
        )  # fmt: skip
        layer.load_full_state_dict(dict(embed.state_dict()))
        return layer

    @override
    def forward(self, ids: Tensor) -> Tensor:
        outside = (ids < self.begin) | (ids >= self.end)
        local_ids = (ids - self.begin).masked_fill(outside, 0)
        local_pad = None
        if self.pad_idx is not None and self.begin <= self.pad_idx < self.end:
            local_pad = self.pad_idx - self.begin
        y = F.embedding(local_ids, self.weight, padding_idx=local_pad)
        y = y.masked_fill(outside.unsqueeze(-1), 0.0)
        return reduce_from_tp(y, self.gang)

    @override
    def full_state_dict(self) -> dict[str, Tensor]:
        return {"weight": _gather_dim(self.weight, self.gang, 0)}

    @override
    def load_full_state_dict(self, state_dict: dict[str, Tensor]) -> None:
        with torch.no_grad():
            self.weight.copy_(state_dict["weight"][self.begin : self.end])

    @override
    def extra_repr(self) -> str:
        return (
            f"num_embeddings={self.num_embeddings}, dim={self.dim}, rows=[{self.begin}, "
            f"{self.end}), tp_rank={self.gang.rank}/{self.gang.size}"
        )
