"""Build a :class:`TransformerModel` from a :class:`TransformerConfig`."""

from __future__ import annotations

import torch
from torch.nn import Module

from seqkit.models.transformer.config import TransformerConfig
from seqkit.models.transformer.model import TransformerFrontend, TransformerModel
from seqkit.nn import (
    FeedForwardNetwork,
    LayerNorm,
    LearnedPositionEncoder,
    MultiheadAttention,
    SinusoidalPositionEncoder,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    create_embedding,
    create_linear,
)


def create_transformer_model(
    config: TransformerConfig,
    *,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> TransformerModel:
    """Build a randomly initialized encoder-decoder (shapes only on ``device="meta"``)."""
    dim = config.model_dim
    # Embeddings N(0, dim^-1/2): after the sqrt(dim) scaling their entries are ~N(0, 1).
    embed_std = dim**-0.5

    def norm() -> LayerNorm:
        return LayerNorm(dim, eps=config.layer_norm_eps, device=device, dtype=dtype)

    def attn() -> MultiheadAttention:
        return MultiheadAttention(
            dim,
            config.num_attn_heads,
            qkv_bias=True,
            output_bias=True,
            dropout_p=config.attn_dropout_p,
            device=device,
            dtype=dtype,
        )

    def ffn() -> FeedForwardNetwork:
        return FeedForwardNetwork(
            dim,
            config.ffn_inner_dim,
            activation=config.activation,
            dropout_p=config.dropout_p,
            device=device,
            dtype=dtype,
        )

    def pos_encoder() -> Module:
        if config.position_encoder == "learned":
            return LearnedPositionEncoder(
                dim, config.max_seq_len, init_std=embed_std, device=device, dtype=dtype
            )
        return SinusoidalPositionEncoder(dim)

    def embedding() -> torch.nn.Embedding:
        return create_embedding(
            config.vocab_size,
            dim,
            pad_idx=config.pad_idx,
            init_std=embed_std,
            device=device,
            dtype=dtype,
        )

    pre = config.norm_order == "pre"
    encoder = TransformerEncoder(
        [
            TransformerEncoderLayer(
                attn(),
                norm(),
                ffn(),
                norm(),
                norm_order=config.norm_order,
                dropout_p=config.dropout_p,
            )
            for _ in range(config.num_encoder_layers)
        ],
        norm() if pre else None,
    )
    decoder = TransformerDecoder(
        [
            TransformerDecoderLayer(
                attn(),
                norm(),
                ffn(),
                norm(),
                cross_attn=attn(),
                cross_attn_norm=norm(),
                norm_order=config.norm_order,
                dropout_p=config.dropout_p,
            )
            for _ in range(config.num_decoder_layers)
        ],
        norm() if pre else None,
    )
    encoder_embed = embedding()
    decoder_embed = encoder_embed if config.share_embeddings else embedding()
    scale = config.scale_embeddings
    encoder_frontend = TransformerFrontend(
        encoder_embed, pos_encoder(), scale=scale, dropout_p=config.dropout_p
    )
    decoder_frontend = TransformerFrontend(
        decoder_embed, pos_encoder(), scale=scale, dropout_p=config.dropout_p
    )
    final_proj = create_linear(
        dim, config.vocab_size, bias=False, init_std=embed_std, device=device, dtype=dtype
    )
    if config.tie_output_projection:
        final_proj.weight = decoder_embed.weight
    return TransformerModel(
        config, encoder_frontend, encoder, decoder_frontend, decoder, final_proj
    )
