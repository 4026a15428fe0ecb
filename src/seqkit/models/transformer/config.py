"""The configuration of the ``transformer`` (encoder-decoder) family and its archs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

TRANSFORMER_FAMILY: Final = "transformer"


@dataclass(kw_only=True)
class TransformerConfig:
    """An encoder-decoder transformer for translation (Vaswani et al., 2017).

    Source and target share one vocabulary (a joint sentencepiece model), so the
    embeddings can be shared between encoder, decoder and output projection.
    """

    model_dim: int = 512
    """Width of the residual stream."""

    num_encoder_layers: int = 6
    """Number of encoder layers."""

    num_decoder_layers: int = 6
    """Number of decoder layers."""

    num_attn_heads: int = 8
    """Number of attention heads in every attention block."""

    ffn_inner_dim: int = 2048
    """Inner width of the feed-forward networks."""

    vocab_size: int = 32000
    """Size of the shared source/target vocabulary."""

    pad_idx: int | None = None
    """Padding token id, whose embedding stays zero; ``None`` for no padding row."""

    max_seq_len: int = 1024
    """Longest sequence; the size of learned position tables."""

    position_encoder: Literal["sinusoidal", "learned"] = "sinusoidal"
    """Fixed sinusoidal positions or a learned table."""

    norm_order: Literal["pre", "post"] = "post"
    """Post-norm as in the paper, or pre-norm (more stable for deep models)."""

    share_embeddings: bool = True
    """Use one embedding matrix for encoder and decoder inputs."""

    tie_output_projection: bool = True
    """Share the output projection with the decoder embedding."""

    scale_embeddings: bool = True
    """Multiply embeddings by sqrt(model_dim) before adding positions."""

    activation: Literal["relu", "gelu"] = "relu"
    """Activation of the feed-forward networks."""

    dropout_p: float = 0.1
    """Dropout on embeddings, residual branches and inside FFNs."""

    attn_dropout_p: float = 0.0
    """Dropout on attention weights."""

    layer_norm_eps: float = 1e-5
    """Epsilon of every LayerNorm."""

    def __post_init__(self) -> None:
        if self.model_dim % self.num_attn_heads:
            raise ValueError(
                f"TransformerConfig.model_dim ({self.model_dim}) is not divisible by "
                f"num_attn_heads ({self.num_attn_heads})"
            )
        if self.position_encoder == "sinusoidal" and self.model_dim % 2:
            raise ValueError("sinusoidal positions need an even TransformerConfig.model_dim")


def _tiny() -> TransformerConfig:
    # Unit-test size: runs in milliseconds on CPU.
    return TransformerConfig(
        model_dim=64,
        num_encoder_layers=2,
        num_decoder_layers=2,
        num_attn_heads=4,
        ffn_inner_dim=128,
        vocab_size=512,
        max_seq_len=256,
        dropout_p=0.0,
    )


def _small() -> TransformerConfig:
    # Demo size for the bundled Bible corpus on CPU (~10M parameters with an 8k vocab).
    return TransformerConfig(
        model_dim=256,
        num_encoder_layers=3,
        num_decoder_layers=3,
        num_attn_heads=4,
        ffn_inner_dim=1024,
        vocab_size=8192,
        max_seq_len=512,
        norm_order="pre",
    )


def _base() -> TransformerConfig:
    return TransformerConfig()


def _big() -> TransformerConfig:
    return TransformerConfig(model_dim=1024, num_attn_heads=16, ffn_inner_dim=4096, dropout_p=0.3)


TRANSFORMER_ARCHS: Final[Mapping[str, Callable[[], TransformerConfig]]] = MappingProxyType(
    {"tiny": _tiny, "small": _small, "base": _base, "big": _big}
)
"""Named architectures of the ``transformer`` family; each call returns a fresh config."""
