"""Linear projections and embeddings with explicit, configurable initialization."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import Embedding, Linear


def create_linear(
    in_dim: int,
    out_dim: int,
    *,
    bias: bool,
    init_std: float | None = None,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> Linear:
    """A :class:`torch.nn.Linear`, initialized N(0, ``init_std``) (bias zero) when given.

    Models hold plain ``Linear`` modules so that tensor parallelism can swap them for
    sharded ones by attribute name without touching the forward code.
    """
    proj = Linear(in_dim, out_dim, bias=bias, device=device, dtype=dtype)
    if init_std is not None and proj.weight.device.type != "meta":
        init_normal_(proj.weight, init_std)
        if proj.bias is not None:
            torch.nn.init.zeros_(proj.bias)
    return proj


def create_embedding(
    num_embeddings: int,
    dim: int,
    *,
    pad_idx: int | None = None,
    init_std: float | None = None,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> Embedding:
    """A :class:`torch.nn.Embedding`; the ``pad_idx`` row is zero and gets no gradient."""
    if torch.device(device or "cpu").type == "meta":
        # Embedding's own init calls normal_ on meta, which drags in torch._refs and
        # torch._dynamo (~7 s and ~100 MB on first use); a meta model needs no init.
        weight = torch.empty((num_embeddings, dim), device=device, dtype=dtype)
        return Embedding(num_embeddings, dim, padding_idx=pad_idx, _weight=weight)
    embed = Embedding(num_embeddings, dim, padding_idx=pad_idx, device=device, dtype=dtype)
    if init_std is not None:
        init_normal_(embed.weight, init_std)
        if pad_idx is not None:
            with torch.no_grad():
                embed.weight[pad_idx].zero_()
    return embed


def init_normal_(weight: Tensor, std: float) -> None:
    """Fill ``weight`` from N(0, std) truncated at 3 std, which avoids rare huge weights."""
    torch.nn.init.trunc_normal_(weight, mean=0.0, std=std, a=-3 * std, b=3 * std)
