"""Layer normalizations: LayerNorm and RMSNorm, both computed in float32."""

from __future__ import annotations

from typing import Literal, final

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module, Parameter
from typing_extensions import override

NormKind = Literal["layer_norm", "rms_norm"]


@final
class RMSNorm(Module):
    """Root-mean-square normalization (Zhang & Sennrich, 2019) with a learned scale.

    Statistics are taken in float32 whatever the input dtype, because bf16 sums of
    thousands of squares lose the low bits that the normalization depends on.
    """

    def __init__(
        self,
        dim: int,
        *,
        eps: float = 1e-6,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps
        self.weight = Parameter(torch.empty(dim, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set the scale to one."""
        torch.nn.init.ones_(self.weight)

    @override
    def forward(self, x: Tensor) -> Tensor:
        if x.dtype == torch.float32 and self.weight.dtype == torch.float32:
            # One fused kernel; the float32 round trip below would be two no-op casts.
            return F.rms_norm(x, (self.dim,), self.weight, eps=self.eps)
        normed = F.rms_norm(x.float(), (self.dim,), eps=self.eps)
        return self.weight * normed.to(x.dtype)

    @override
    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}"


@final
class LayerNorm(Module):
    """Layer normalization (Ba et al., 2016) with scale and bias, statistics in float32."""

    def __init__(
        self,
        dim: int,
        *,
        eps: float = 1e-5,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps
        self.weight = Parameter(torch.empty(dim, device=device, dtype=dtype))
        self.bias = Parameter(torch.empty(dim, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set the scale to one and the bias to zero."""
        torch.nn.init.ones_(self.weight)
        torch.nn.init.zeros_(self.bias)

    @override
    def forward(self, x: Tensor) -> Tensor:
        if x.dtype == torch.float32:
            return F.layer_norm(x, (self.dim,), self.weight, self.bias, self.eps)
        normed = F.layer_norm(x.float(), (self.dim,), eps=self.eps).to(x.dtype)
        return normed * self.weight + self.bias

    @override
    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}"


def create_norm(
    kind: NormKind,
    dim: int,
    *,
    eps: float,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> Module:
    """Build the normalization named ``kind``."""
    if kind == "rms_norm":
        return RMSNorm(dim, eps=eps, device=device, dtype=dtype)
    return LayerNorm(dim, eps=eps, device=device, dtype=dtype)
