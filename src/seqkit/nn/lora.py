"""LoRA: trainable low-rank adapters on the linear projections of attention and FFN blocks.

:func:`apply_lora` swaps chosen projections (``q``/``k``/``v``/``o`` of attention,
``gate``/``up``/``down`` of feed-forward blocks) for :class:`LoRALinear` and freezes every
other parameter, so an optimizer over ``requires_grad`` parameters sees the adapters
only. A :class:`LoRALinear` keeps the base layer's ``weight``/``bias`` under the same
names (``...q_proj.weight``), so state dicts keep the model's keys and add
``...q_proj.lora_a``/``lora_b``.

The output is ``W x + b + (alpha / rank) * B A dropout(x)``; ``B`` starts at zero, so a
freshly adapted model computes exactly what the base model does (Hu et al., 2021).
:func:`merge_lora` folds ``(alpha / rank) * B A`` into ``W`` and puts plain
:class:`~torch.nn.Linear` layers back, which is what inference fusing
(:func:`~seqkit.nn.projection.fuse_projections`) and saving need: merge before fusing (an
adapted projection is never fused, it runs unfused). :func:`merged_state_dict` gives the
merged weights without touching the model, which is what exporting uses.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final, final

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Dropout, Linear, Module, Parameter
from typing_extensions import override

from seqkit.nn.attention import MultiheadAttention
from seqkit.nn.ffn import FeedForwardNetwork, GLUFeedForwardNetwork

LORA_TARGETS: Final[dict[type[Module], dict[str, str]]] = {
    MultiheadAttention: {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "output_proj"},
    GLUFeedForwardNetwork: {"gate": "gate_proj", "up": "inner_proj", "down": "output_proj"},
    FeedForwardNetwork: {"up": "inner_proj", "down": "output_proj"},
}
"""Per block type, the target names :func:`apply_lora` accepts and the attribute each
names (``up`` is the FFN's ``inner_proj``, ``down`` its ``output_proj``)."""

TARGET_NAMES: Final = ("q", "k", "v", "o", "gate", "up", "down")
"""Every target name, in the order of a transformer layer."""


@dataclass(frozen=True, kw_only=True)
class LoRAConfig:
    """Which projections get adapters, and their shape."""

    rank: int = 8
    """Rank ``r`` of each adapter (``A`` is ``r x in``, ``B`` is ``out x r``)."""

    alpha: float = 16.0
    """Scale: the adapter's output is multiplied by ``alpha / rank``."""

    dropout_p: float = 0.0
    """Dropout on the adapter's input (training only)."""

    targets: Sequence[str] = TARGET_NAMES
    """Projections to adapt, from :data:`TARGET_NAMES`."""

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ValueError(f"LoRA rank must be >= 1, not {self.rank}")
        if not 0.0 <= self.dropout_p < 1.0:
            raise ValueError(f"LoRA dropout must be in [0, 1), not {self.dropout_p}")
        unknown = sorted(set(self.targets) - set(TARGET_NAMES))
        if unknown or not self.targets:
            raise ValueError(
                f"LoRA targets must be a non-empty subset of {list(TARGET_NAMES)}; "
                f"unknown: {unknown}"
            )

    @property
    def scale(self) -> float:
        """``alpha / rank``."""
        return self.alpha / self.rank


@final
class LoRALinear(Module):
    """A frozen linear layer plus a trainable low-rank update ``scale * B A``.

    ``weight`` and ``bias`` are the base layer's own parameters (same objects, frozen);
    ``lora_a`` (``rank x in``, Kaiming-uniform) and ``lora_b`` (``out x rank``, zero) are
    new, on the base weight's device and dtype.
    """

    def __init__(
        self,
        base: Linear,
        *,
        rank: int,
        alpha: float,
        dropout_p: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_features = base.in_features
        self.out_features = base.out_features
        self.rank = rank
        self.scale = alpha / rank
        self.weight = base.weight
        self.bias = base.bias
        self.weight.requires_grad_(False)
        if self.bias is not None:
            self.bias.requires_grad_(False)
        w = base.weight
        # Drawn on the CPU from ``generator`` (reproducible on any device), then moved.
        a = torch.empty(rank, self.in_features)
        bound = 1.0 / math.sqrt(self.in_features)  # kaiming_uniform_(a=sqrt(5)), as Linear
        a.uniform_(-bound, bound, generator=generator)
        self.lora_a = Parameter(a.to(device=w.device, dtype=w.dtype))
        self.lora_b = Parameter(
            torch.zeros(self.out_features, rank, device=w.device, dtype=w.dtype)
        )
        self.lora_dropout = Dropout(dropout_p)
        self.adapter_enabled = True

    @override
    def forward(self, x: Tensor) -> Tensor:
        out = F.linear(x, self.weight, self.bias)
        if not self.adapter_enabled:
            return out
        update = F.linear(F.linear(self.lora_dropout(x), self.lora_a), self.lora_b)
        return out + update * self.scale

    def delta_weight(self) -> Tensor:
        """``scale * B A`` (computed in float32, returned in the weight's dtype)."""
        with torch.no_grad():
            delta = (self.lora_b.float() @ self.lora_a.float()) * self.scale
        return delta.to(self.weight.dtype)

    def merged_weight(self) -> Tensor:
        """``W + scale * B A``: the weight of the equivalent plain layer (a new tensor)."""
        with torch.no_grad():
            merged = self.weight.float() + self.delta_weight().float()
        return merged.to(self.weight.dtype)

    def to_linear(self) -> Linear:
        """The equivalent plain :class:`~torch.nn.Linear` (merged weight, the same bias)."""
        linear = Linear(
            self.in_features, self.out_features, bias=self.bias is not None, device="meta"
        )
        linear.weight = Parameter(self.merged_weight(), requires_grad=self.weight.requires_grad)
        if self.bias is not None:
            linear.bias = self.bias
        return linear

    @override
    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"rank={self.rank}, scale={self.scale:g}, bias={self.bias is not None}"
        )


def apply_lora(model: Module, config: LoRAConfig, *, seed: int = 0) -> list[str]:
    """Freeze ``model`` and put adapters on the ``config.targets`` projections of every
    attention and FFN block; return the adapted modules' names.

    Adapter ``A`` matrices are drawn from a generator seeded with ``seed`` in module
    order, so the same model and seed give the same adapters. Raises ``ValueError`` when
    the model already has adapters or no block has any of the targets.
    """
    if has_lora(model):
        raise ValueError("the model already has LoRA adapters; merge_lora() it first")
    model.requires_grad_(False)
    generator = torch.Generator().manual_seed(seed)
    adapted: list[str] = []
    for name, module in list(model.named_modules()):
        attrs = LORA_TARGETS.get(type(module))
        if attrs is None:
            continue
        for target in config.targets:
            attr = attrs.get(target)
            if attr is None:
                continue
            proj = getattr(module, attr, None)
            if not isinstance(proj, Linear):
                continue
            wrapped = LoRALinear(
                proj,
                rank=config.rank,
                alpha=config.alpha,
                dropout_p=config.dropout_p,
                generator=generator,
            )
            setattr(module, attr, wrapped)
            adapted.append(f"{name}.{attr}" if name else str(attr))
    if not adapted:
        raise ValueError(
            f"no projection of {type(model).__name__} matches the LoRA targets "
            f"{list(config.targets)}"
        )
    return adapted


def has_lora(model: Module) -> bool:
    """Whether ``model`` holds any :class:`LoRALinear`."""
    return any(isinstance(m, LoRALinear) for m in model.modules())


def merge_lora(model: Module) -> int:
    """Fold every adapter into its base weight and put a plain ``Linear`` back in place;
    return how many were merged.

    The model then computes the same function (up to rounding), has the base model's
    parameter names and nothing else, and its projections can be fused again. Parameters
    stay as frozen as :func:`apply_lora` left them.
    """
    count = 0
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, LoRALinear):
                setattr(module, child_name, child.to_linear())
                count += 1
    return count


def merged_state_dict(model: Module) -> dict[str, Tensor]:
    """``model.state_dict()`` as if :func:`merge_lora` had run: adapted weights merged and
    the ``lora_a``/``lora_b`` entries left out. The model is not changed."""
    state = model.state_dict()
    for name, module in model.named_modules():
        if not isinstance(module, LoRALinear):
            continue
        prefix = f"{name}." if name else ""
        state[f"{prefix}weight"] = module.merged_weight()
        del state[f"{prefix}lora_a"]
        del state[f"{prefix}lora_b"]
    return state


@contextmanager
def lora_disabled(model: Module) -> Iterator[None]:
    """Within the block, every :class:`LoRALinear` of ``model`` computes its base layer
    alone: the adapted model acts as the model it was adapted from (e.g. DPO's reference,
    with no second copy of the weights)."""
    layers = [m for m in model.modules() if isinstance(m, LoRALinear)]
    before = [m.adapter_enabled for m in layers]
    for m in layers:
        m.adapter_enabled = False
    try:
        yield
    finally:
        for m, enabled in zip(layers, before, strict=True):
            m.adapter_enabled = enabled


def lora_parameters(model: Module) -> list[Parameter]:
    """The adapters' parameters (``lora_a`` and ``lora_b`` of every :class:`LoRALinear`)."""
    return [p for m in model.modules() if isinstance(m, LoRALinear) for p in (m.lora_a, m.lora_b)]
