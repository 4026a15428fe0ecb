"""Position-wise feed-forward networks: the classic FFN and the gated (SwiGLU) one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, final

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Dropout, Module
from typing_extensions import override

from seqkit.nn.projection import FusedLinear, create_linear

Activation = Literal["relu", "gelu", "silu"]

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "gelu": F.gelu,
    "silu": F.silu,
}


@final
class FeedForwardNetwork(Module):
    """``output_proj(dropout(act(inner_proj(x))))`` (Vaswani et al., 2017)."""

    def __init__(
        self,
        model_dim: int,
        inner_dim: int,
        *,
        bias: bool = True,
        activation: Activation = "relu",
        dropout_p: float = 0.0,
        init_std: float | None = None,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.inner_proj = create_linear(
            model_dim, inner_dim, bias=bias, init_std=init_std, device=device, dtype=dtype
        )
        self.output_proj = create_linear(
            inner_dim, model_dim, bias=bias, init_std=init_std, device=device, dtype=dtype
        )
        self.activation = activation
        self.inner_dropout = Dropout(dropout_p)

    @override
    def forward(self, x: Tensor) -> Tensor:
        hidden = _ACTIVATIONS[self.activation](self.inner_proj(x))
        out: Tensor = self.output_proj(self.inner_dropout(hidden))
        return out


@final
class GLUFeedForwardNetwork(Module):
    """Gated FFN, SwiGLU by default (Shazeer, 2020): ``out(act(gate(x)) * inner(x))``."""

    def __init__(
        self,
        model_dim: int,
        inner_dim: int,
        *,
        bias: bool = False,
        activation: Activation = "silu",
        dropout_p: float = 0.0,
        init_std: float | None = None,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.gate_proj = create_linear(
            model_dim, inner_dim, bias=bias, init_std=init_std, device=device, dtype=dtype
        )
        self.inner_proj = create_linear(
            model_dim, inner_dim, bias=bias, init_std=init_std, device=device, dtype=dtype
        )
        self.output_proj = create_linear(
            inner_dim, model_dim, bias=bias, init_std=init_std, device=device, dtype=dtype
        )
        self.activation = activation
        self.inner_dropout = Dropout(dropout_p)
        self._fused: FusedLinear | None = None

    def fuse_projections(self) -> bool:
        """Run gate/inner as one matmul from now on when autograd is off.

        Returns whether they are fused; parameters and state dict are unchanged (see
        :class:`FusedLinear`).
        """
        if self._fused is not None and self._fused.is_current():
            return True
        self._fused = None
        if not FusedLinear.can_fuse((self.gate_proj, self.inner_proj)):
            return False
        self._fused = FusedLinear(self, ("gate_proj", "inner_proj"))
        return True

    @override
    def forward(self, x: Tensor) -> Tensor:
        fused = self._fused
        if fused is not None and not torch.is_grad_enabled() and not fused.is_current():
            self._fused = fused = None  # moved, cast or sharded since fusing
        dropout = self.inner_dropout
        if (
            fused is not None
            and not torch.is_grad_enabled()
            and not (dropout.training and dropout.p > 0.0)
        ):
            gate, inner = fused(x).split_with_sizes(fused.sizes, dim=-1)
            # Autograd is off: multiply into the activation's fresh output in place.
            hidden = _ACTIVATIONS[self.activation](gate).mul_(inner)
            out: Tensor = self.output_proj(hidden)
            return out
        gate = _ACTIVATIONS[self.activation](self.gate_proj(x))
        hidden = gate * self.inner_proj(x)
        if self.inner_dropout.training and self.inner_dropout.p > 0.0:
            hidden = self.inner_dropout(hidden)
        out = self.output_proj(hidden)
        return out
