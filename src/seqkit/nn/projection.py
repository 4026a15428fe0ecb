"""Linear projections and embeddings with explicit, configurable initialization."""

from __future__ import annotations

from collections.abc import Sequence
from typing import final

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Embedding, Linear, Module


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


@final
class FusedLinear:
    """Several plain :class:`~torch.nn.Linear` layers over one input, run as one matmul.

    The weights (and biases) of the layers ``names`` of ``owner`` are concatenated along
    the output dimension into one tensor, and each layer's parameter is re-pointed
    (``param.data``) at its rows of it: no extra memory, the same
    :class:`~torch.nn.Parameter` objects (optimizers and state dicts see no change), and
    in-place updates or ``load_state_dict`` land in the fused tensor too.
    :meth:`is_current` tells whether the layers still use the fused storage: a ``.to()``,
    a cast, or a tensor-parallel sharder swapping a layer for a sharded one breaks the
    link, and callers then fall back to the separate layers.
    """

    def __init__(self, owner: Module, names: Sequence[str]) -> None:
        """Fuse ``owner.<name>`` for each name; check them with :meth:`can_fuse` first."""
        projs = [owner.get_submodule(name) for name in names]
        if not self.can_fuse(projs):
            raise ValueError(f"cannot fuse {list(names)}: see FusedLinear.can_fuse()")
        linears = [p for p in projs if isinstance(p, Linear)]
        self._owner = owner
        self.sizes = [p.weight.shape[0] for p in linears]
        self.bias: Tensor | None = None
        # Outside inference mode: the parameters must stay usable for training.
        with torch.inference_mode(False), torch.no_grad():
            self.weight = torch.cat([p.weight.detach() for p in linears], dim=0)
            biases = [p.bias.detach() for p in linears if p.bias is not None]
            if biases:
                self.bias = torch.cat(biases)
        start = 0
        for proj, size in zip(linears, self.sizes, strict=True):
            proj.weight.data = self.weight[start : start + size]
            if self.bias is not None and proj.bias is not None:
                proj.bias.data = self.bias[start : start + size]
            start += size
        self._links = [
            (
                name,
                proj,
                proj.weight.data_ptr(),
                None if proj.bias is None else proj.bias.data_ptr(),
            )
            for name, proj in zip(names, linears, strict=True)
        ]

    @staticmethod
    def can_fuse(projs: Sequence[Module]) -> bool:
        """Whether ``projs`` are plain ``Linear`` layers that can share one matmul."""
        linears = [p for p in projs if type(p) is Linear]
        if len(projs) < 2 or len(linears) != len(projs):
            return False
        first = linears[0]
        for proj in linears:
            w = proj.weight
            if (
                w.is_meta
                or w.shape[1] != first.weight.shape[1]
                or w.dtype != first.weight.dtype
                or w.device != first.weight.device
                or (proj.bias is None) != (first.bias is None)
            ):
                return False
        return True

    def is_current(self) -> bool:
        """Whether the owner still holds the fused layers and they read the fused tensor.

        Called before every fused forward, so it is kept to identity and pointer checks.
        """
        modules = self._owner._modules
        for name, proj, weight_ptr, bias_ptr in self._links:
            if modules.get(name) is not proj:
                return False
            params = proj._parameters
            weight, bias = params["weight"], params.get("bias")
            if weight is None or weight.data_ptr() != weight_ptr:
                return False
            if bias_ptr is not None and (bias is None or bias.data_ptr() != bias_ptr):
                return False
        return True

    def __call__(self, x: Tensor) -> Tensor:
        """All the projections of ``x`` at once, concatenated on the last dimension."""
        return F.linear(x, self.weight, self.bias)


def fuse_projections(model: Module) -> int:
    """Fuse the projections of every module of ``model`` that supports it; return how many.

    Attention fuses q/k/v and gated FFNs fuse gate/inner into one matmul each, used when
    autograd is off (decoding, scoring). Parameters keep their names, shapes and
    values, so state dicts and checkpoints are unchanged. Idempotent and cheap to call
    again. Fuse before tensor-parallel sharding or not at all: sharded layers are never
    fused and simply run unfused.
    """
    count = 0
    for module in model.modules():
        fuse = getattr(module, "fuse_projections", None)
        if callable(fuse) and fuse():
            count += 1
    return count
