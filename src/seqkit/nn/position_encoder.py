"""Position information: sinusoidal and learned (added to embeddings) and rotary (RoPE)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import final

import torch
from torch import Tensor
from torch.nn import Embedding, Module
from typing_extensions import override

from seqkit.nn.projection import init_normal_


@final
class SinusoidalPositionEncoder(Module):
    """Adds fixed sine/cosine position codes (Vaswani et al., 2017) to ``[B, S, D]`` input.

    The first half of the features holds ``sin(pos / 10000^(2i/D))``, the second half the
    cosines. Codes are computed on the fly, so there is no length limit and no buffer to
    load or save.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"sinusoidal positions need an even dimension, got {dim}")
        self.dim = dim

    @override
    def forward(self, x: Tensor, positions: Tensor) -> Tensor:
        half = self.dim // 2
        step = math.log(10000.0) / half
        freqs = torch.exp(torch.arange(half, device=x.device, dtype=torch.float32) * -step)
        angles = positions.to(torch.float32)[..., None] * freqs
        codes = torch.cat([angles.sin(), angles.cos()], dim=-1)
        return x + codes.to(x.dtype)


@final
class LearnedPositionEncoder(Module):
    """Adds a learned embedding of each position (up to ``max_seq_len``) to the input."""

    def __init__(
        self,
        dim: int,
        max_seq_len: int,
        *,
        init_std: float | None = None,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.max_seq_len = max_seq_len
        self.embed = Embedding(max_seq_len, dim, device=device, dtype=dtype)
        if init_std is not None and self.embed.weight.device.type != "meta":
            init_normal_(self.embed.weight, init_std)

    @override
    def forward(self, x: Tensor, positions: Tensor) -> Tensor:
        if positions.numel() and int(positions.max()) >= self.max_seq_len:
            raise ValueError(
                f"position {int(positions.max())} is past the learned table "
                f"({self.max_seq_len} positions); raise `max_seq_len` or shorten inputs"
            )
        embedded: Tensor = self.embed(positions)
        return x + embedded


@dataclass(frozen=True, kw_only=True)
class Llama3RopeScaling:
    """Llama 3.1 frequency scaling: long wavelengths are stretched by ``factor``."""

    factor: float = 8.0
    """How much the context is extended for the low-frequency dimensions."""

    low_freq_factor: float = 1.0
    """Wavelengths longer than ``original_max_seq_len / low_freq_factor`` are fully scaled."""

    high_freq_factor: float = 4.0
    """Wavelengths shorter than ``original_max_seq_len / high_freq_factor`` are kept."""

    original_max_seq_len: int = 8192
    """The context length the model was pretrained with before scaling."""


def rope_frequencies(
    head_dim: int, theta: float, scaling: Llama3RopeScaling | None = None
) -> Tensor:
    """The ``head_dim // 2`` inverse frequencies of RoPE, float32, with optional scaling."""
    exponents = torch.arange(0, head_dim, 2, dtype=torch.int64).to(torch.float32) / head_dim
    inv_freq = 1.0 / (theta**exponents)
    if scaling is None:
        return inv_freq
    wavelen = 2 * math.pi / inv_freq
    low_wavelen = scaling.original_max_seq_len / scaling.low_freq_factor
    high_wavelen = scaling.original_max_seq_len / scaling.high_freq_factor
    scaled = torch.where(wavelen > low_wavelen, inv_freq / scaling.factor, inv_freq)
    # Between the two thresholds, interpolate between scaled and unscaled frequencies.
    smooth = (scaling.original_max_seq_len / wavelen - scaling.low_freq_factor) / (
        scaling.high_freq_factor - scaling.low_freq_factor
    )
    blended = (1 - smooth) * scaled / scaling.factor + smooth * scaled
    medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
    return torch.where(medium, blended, scaled)


@final
class RotaryEncoder(Module):
    """Rotary position embedding (Su et al., 2021) in the "rotate half" layout.

    Feature ``i`` of a head is paired with feature ``i + head_dim/2`` (the layout of the
    Hugging Face Llama checkpoints, so their q/k weights load without permutation).
    :meth:`forward` returns the ``(cos, sin)`` tables for the given positions, computed
    once per model call; :func:`apply_rotary` rotates queries and keys with them.

    The tables are computed once for positions ``0..n`` and grown (doubling) on demand,
    so a decoding step only slices them instead of recomputing the frequencies and
    trigonometry. They are a plain cache, not buffers, so state dicts are unchanged.
    """

    def __init__(
        self, head_dim: int, *, theta: float = 10000.0, scaling: Llama3RopeScaling | None = None
    ) -> None:
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary embedding needs an even head dimension, got {head_dim}")
        self.head_dim = head_dim
        self.theta = theta
        self.scaling = scaling
        self._tables: dict[tuple[torch.device, torch.dtype], tuple[Tensor, Tensor]] = {}

    def _table(
        self, num_positions: int, device: torch.device, dtype: torch.dtype
    ) -> tuple[Tensor, Tensor]:
        key = (device, dtype)
        cached = self._tables.get(key)
        if cached is not None and cached[0].shape[0] >= num_positions:
            return cached
        size = max(num_positions, 256, 2 * cached[0].shape[0] if cached is not None else 0)
        inv_freq = rope_frequencies(self.head_dim, self.theta, self.scaling).to(device)
        angles = torch.arange(size, device=device, dtype=torch.float32)[:, None] * inv_freq
        angles = torch.cat([angles, angles], dim=-1)
        table = (angles.cos().to(dtype), angles.sin().to(dtype))
        self._tables[key] = table
        return table

    @override
    def forward(
        self, positions: Tensor, dtype: torch.dtype, *, start: int | None = None
    ) -> tuple[Tensor, Tensor]:
        """The ``(cos, sin)`` tables ``[*positions.shape, head_dim]`` in ``dtype``.

        Pass ``start`` when ``positions`` is known to be ``start, start + 1, ...`` (an
        unpacked batch): the tables are then sliced without reading ``positions``.
        """
        if positions.device.type == "meta":
            return _rope_angles(positions, self.head_dim, self.theta, self.scaling, dtype)
        if start is not None and positions.dim() == 1:
            end = start + positions.shape[0]
            cos, sin = self._table(end, positions.device, dtype)
            return cos[start:end], sin[start:end]
        num = int(positions.max()) + 1 if positions.numel() else 1
        cos, sin = self._table(num, positions.device, dtype)
        return cos[positions], sin[positions]


def _rope_angles(
    positions: Tensor,
    head_dim: int,
    theta: float,
    scaling: Llama3RopeScaling | None,
    dtype: torch.dtype,
) -> tuple[Tensor, Tensor]:
    inv_freq = rope_frequencies(head_dim, theta, scaling).to(positions.device)
    angles = positions.to(torch.float32)[..., None] * inv_freq
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos().to(dtype), angles.sin().to(dtype)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate ``x`` ``[B, H, S, D]`` by tables ``[S, D]`` or ``[B, S, D]``."""
    if cos.dim() == 3:
        cos, sin = cos[:, None], sin[:, None]
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin
