"""The configuration of the ``llama`` family and its named architectures."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from seqkit.nn import Llama3RopeScaling

LLAMA_FAMILY: Final = "llama"


@dataclass(kw_only=True)
class LlamaConfig:
    """A decoder-only transformer in the Llama style (pre-RMSNorm, RoPE, SwiGLU, GQA).

    ``qkv_bias=True`` gives the Qwen2 variant (biases on the query/key/value projections).
    """

    model_dim: int = 4096
    """Width of the residual stream."""

    num_layers: int = 32
    """Number of decoder layers."""

    num_attn_heads: int = 32
    """Number of query heads."""

    num_key_value_heads: int = 8
    """Number of key/value heads (grouped-query attention); equal to heads for MHA."""

    head_dim: int | None = None
    """Width of one head; ``None`` means ``model_dim // num_attn_heads``."""

    ffn_inner_dim: int = 14336
    """Inner width of the SwiGLU feed-forward network."""

    vocab_size: int = 128256
    """Number of token ids."""

    pad_idx: int | None = None
    """Padding token id, whose embedding is kept at zero; ``None`` for no padding row."""

    max_seq_len: int = 8192
    """Longest sequence the model is meant for (informational; RoPE has no hard limit)."""

    rope_theta: float = 500000.0
    """Base of the rotary frequencies."""

    rope_scaling: Llama3RopeScaling | None = None
    """Llama 3.1 style frequency scaling for long contexts, or ``None``."""

    rms_norm_eps: float = 1e-5
    """Epsilon of every RMSNorm."""

    tie_embeddings: bool = False
    """Whether the output projection shares the embedding matrix."""

    qkv_bias: bool = False
    """Bias on the q/k/v projections (Qwen2)."""

    dropout_p: float = 0.0
    """Dropout after embeddings, attention and FFN (0 for pretraining at scale)."""

    init_std: float = 0.02
    """Standard deviation of the normal initialization of linear and embedding weights."""

    def __post_init__(self) -> None:
        for name in ("model_dim", "num_layers", "num_attn_heads", "ffn_inner_dim", "vocab_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"LlamaConfig.{name} must be positive, got {getattr(self, name)}")
        if self.num_attn_heads % self.num_key_value_heads:
            raise ValueError(
                f"LlamaConfig.num_attn_heads ({self.num_attn_heads}) must be a multiple of "
                f"num_key_value_heads ({self.num_key_value_heads})"
            )
        if self.head_dim is None and self.model_dim % self.num_attn_heads:
            raise ValueError(
                f"LlamaConfig.model_dim ({self.model_dim}) is not divisible by num_attn_heads "
                f"({self.num_attn_heads}); set head_dim explicitly"
            )

    @property
    def resolved_head_dim(self) -> int:
        """``head_dim``, or ``model_dim // num_attn_heads`` when it is not set."""
        return self.head_dim or self.model_dim // self.num_attn_heads


def _tiny() -> LlamaConfig:
    # Small enough for unit tests on two shared CPU cores.
    return LlamaConfig(
        model_dim=64,
        num_layers=2,
        num_attn_heads=4,
        num_key_value_heads=2,
        ffn_inner_dim=128,
        vocab_size=512,
        max_seq_len=512,
        rope_theta=10000.0,
    )


def _small() -> LlamaConfig:
    # ~30M parameters with a 8k vocabulary: trains on a laptop CPU in the demo recipes.
    return LlamaConfig(
        model_dim=512,
        num_layers=6,
        num_attn_heads=8,
        num_key_value_heads=4,
        ffn_inner_dim=1408,
        vocab_size=8192,
        max_seq_len=1024,
        rope_theta=10000.0,
        tie_embeddings=True,
    )


def _llama3_8b() -> LlamaConfig:
    return LlamaConfig()


def _llama3_1_8b() -> LlamaConfig:
    return LlamaConfig(max_seq_len=131072, rope_scaling=Llama3RopeScaling())


def _llama3_70b() -> LlamaConfig:
    return LlamaConfig(model_dim=8192, num_layers=80, num_attn_heads=64, ffn_inner_dim=28672)


def _llama3_1_70b() -> LlamaConfig:
    config = _llama3_70b()
    config.max_seq_len = 131072
    config.rope_scaling = Llama3RopeScaling()
    return config


def _llama3_2_1b() -> LlamaConfig:
    return LlamaConfig(
        model_dim=2048,
        num_layers=16,
        num_attn_heads=32,
        ffn_inner_dim=8192,
        max_seq_len=131072,
        rope_scaling=Llama3RopeScaling(factor=32.0),
        tie_embeddings=True,
    )


def _qwen2_tiny() -> LlamaConfig:
    config = _tiny()
    config.qkv_bias = True
    config.rms_norm_eps = 1e-6
    return config


def _qwen2_5_0_5b() -> LlamaConfig:
    return LlamaConfig(
        model_dim=896,
        num_layers=24,
        num_attn_heads=14,
        num_key_value_heads=2,
        ffn_inner_dim=4864,
        vocab_size=151936,
        max_seq_len=32768,
        rope_theta=1000000.0,
        rms_norm_eps=1e-6,
        tie_embeddings=True,
        qkv_bias=True,
    )


LLAMA_ARCHS: Final[Mapping[str, Callable[[], LlamaConfig]]] = MappingProxyType(
    {
        "tiny": _tiny,
        "small": _small,
        "llama3_8b": _llama3_8b,
        "llama3_1_8b": _llama3_1_8b,
        "llama3_70b": _llama3_70b,
        "llama3_1_70b": _llama3_1_70b,
        "llama3_2_1b": _llama3_2_1b,
        "qwen2_tiny": _qwen2_tiny,
        "qwen2_5_0_5b": _qwen2_5_0_5b,
    }
)
"""Named architectures of the ``llama`` family; each call returns a fresh config."""
