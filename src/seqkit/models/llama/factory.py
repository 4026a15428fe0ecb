"""Build a :class:`LlamaModel` from a :class:`LlamaConfig`."""

from __future__ import annotations

import torch

from seqkit.models.llama.config import LlamaConfig
from seqkit.models.llama.model import LlamaModel
from seqkit.nn import (
    GLUFeedForwardNetwork,
    MultiheadAttention,
    RMSNorm,
    RotaryEncoder,
    TransformerDecoder,
    TransformerDecoderLayer,
    create_embedding,
    create_linear,
)


def create_llama_model(
    config: LlamaConfig,
    *,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> LlamaModel:
    """Build a randomly initialized Llama (on ``device="meta"``: shapes only, no memory)."""
    std = config.init_std
    head_dim = config.resolved_head_dim

    def norm() -> RMSNorm:
        return RMSNorm(config.model_dim, eps=config.rms_norm_eps, device=device, dtype=dtype)

    layers = []
    for _ in range(config.num_layers):
        attn = MultiheadAttention(
            config.model_dim,
            config.num_attn_heads,
            num_kv_heads=config.num_key_value_heads,
            head_dim=head_dim,
            qkv_bias=config.qkv_bias,
            dropout_p=config.dropout_p,
            init_std=std,
            device=device,
            dtype=dtype,
        )
        ffn = GLUFeedForwardNetwork(
            config.model_dim,
            config.ffn_inner_dim,
            dropout_p=config.dropout_p,
            init_std=std,
            device=device,
            dtype=dtype,
        )
        layers.append(
            TransformerDecoderLayer(
                attn, norm(), ffn, norm(), norm_order="pre", dropout_p=config.dropout_p
            )
        )
    decoder = TransformerDecoder(layers, norm())
    embed = create_embedding(
        config.vocab_size,
        config.model_dim,
        pad_idx=config.pad_idx,
        init_std=std,
        device=device,
        dtype=dtype,
    )
    final_proj = create_linear(
        config.model_dim, config.vocab_size, bias=False, init_std=std, device=device, dtype=dtype
    )
    if config.tie_embeddings:
        final_proj.weight = embed.weight
    rope = RotaryEncoder(head_dim, theta=config.rope_theta, scaling=config.rope_scaling)
    return LlamaModel(config, embed, decoder, final_proj, rope)
