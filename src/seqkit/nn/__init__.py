"""Building blocks of sequence models: attention, positions, norms, FFNs, KV cache, layouts.

``seqkit.nn`` never imports :mod:`seqkit.models`; model families assemble these blocks.
"""

from __future__ import annotations

from seqkit.nn.attention import MultiheadAttention
from seqkit.nn.attention_mask import (
    AttentionMask,
    build_cross_attention_mask,
    build_self_attention_mask,
    dense_document_mask,
    document_block_mask,
    document_mask_mod,
    flex_attention_unsupported_reason,
)
from seqkit.nn.batch_layout import BatchLayout
from seqkit.nn.errors import BatchLayoutError, IncrementalStateError
from seqkit.nn.ffn import FeedForwardNetwork, GLUFeedForwardNetwork
from seqkit.nn.incremental_state import IncrementalState, IncrementalStateBag
from seqkit.nn.kv_cache import (
    CrossAttentionCache,
    KeyPaddingState,
    SelfAttentionCache,
    track_key_padding,
)
from seqkit.nn.normalization import LayerNorm, RMSNorm, create_norm
from seqkit.nn.performance import (
    apply_activation_checkpointing,
    compile_layers,
    compile_unsupported_reason,
    transformer_layers,
)
from seqkit.nn.position_encoder import (
    LearnedPositionEncoder,
    Llama3RopeScaling,
    RotaryEncoder,
    SinusoidalPositionEncoder,
    apply_rotary,
    rope_frequencies,
)
from seqkit.nn.projection import (
    FusedLinear,
    create_embedding,
    create_linear,
    fuse_projections,
    init_normal_,
)
from seqkit.nn.transformer_layers import TransformerDecoderLayer, TransformerEncoderLayer
from seqkit.nn.transformer_stack import TransformerDecoder, TransformerEncoder

__all__ = [
    "AttentionMask",
    "BatchLayout",
    "BatchLayoutError",
    "CrossAttentionCache",
    "FeedForwardNetwork",
    "FusedLinear",
    "GLUFeedForwardNetwork",
    "IncrementalState",
    "IncrementalStateBag",
    "IncrementalStateError",
    "KeyPaddingState",
    "LayerNorm",
    "LearnedPositionEncoder",
    "Llama3RopeScaling",
    "MultiheadAttention",
    "RMSNorm",
    "RotaryEncoder",
    "SelfAttentionCache",
    "SinusoidalPositionEncoder",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "apply_activation_checkpointing",
    "apply_rotary",
    "build_cross_attention_mask",
    "build_self_attention_mask",
    "compile_layers",
    "compile_unsupported_reason",
    "create_embedding",
    "create_linear",
    "create_norm",
    "dense_document_mask",
    "document_block_mask",
    "document_mask_mod",
    "flex_attention_unsupported_reason",
    "fuse_projections",
    "init_normal_",
    "rope_frequencies",
    "track_key_padding",
    "transformer_layers",
]
