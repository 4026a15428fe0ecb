"""Tensor-parallel sharding of a :class:`LlamaModel` (Megatron-LM layout).

Attention: q/k/v are column-sharded (each rank keeps ``heads / tp_size`` query heads and
``kv_heads / tp_size`` key/value heads, which keeps GQA groups together) and the output
projection is row-sharded. FFN: gate/inner column-sharded, output row-sharded. The
embedding is vocabulary-sharded and the vocabulary projection column-sharded with its
logits gathered, so the model still returns full ``[B, S, vocab]`` logits on every rank.
"""

from __future__ import annotations

from typing import Final

from seqkit.gang import Gang, ShardingError, ShardKind, shard_modules
from seqkit.models.llama.model import LlamaModel

LLAMA_SHARD_PLAN: Final = {
    "embed": ShardKind.VOCAB,
    "decoder.layers.*.self_attn.q_proj": ShardKind.COLUMN,
    "decoder.layers.*.self_attn.k_proj": ShardKind.COLUMN,
    "decoder.layers.*.self_attn.v_proj": ShardKind.COLUMN,
    "decoder.layers.*.self_attn.output_proj": ShardKind.ROW,
    "decoder.layers.*.ffn.gate_proj": ShardKind.COLUMN,
    "decoder.layers.*.ffn.inner_proj": ShardKind.COLUMN,
    "decoder.layers.*.ffn.output_proj": ShardKind.ROW,
    "final_proj": ShardKind.COLUMN_GATHER,
}
"""Module path pattern -> how it is sharded."""


def shard_llama_model(model: LlamaModel, gang: Gang) -> LlamaModel:
    """Shard ``model`` over the tensor-parallel ``gang``, in place, and return it.

    Every rank must hold the same full weights (load the checkpoint, then shard). On a gang
    of size 1 nothing changes.
    """
    if gang.size == 1:
        return model
    config = model.config
    counts = {
        "num_attn_heads": config.num_attn_heads,
        "num_key_value_heads": config.num_key_value_heads or config.num_attn_heads,
        "ffn_inner_dim": config.ffn_inner_dim,
        "vocab_size": config.vocab_size,
    }
    for name, value in counts.items():
        if value % gang.size != 0:
            raise ShardingError(
                f"The llama `{name}` ({value}) is not divisible by tp_size ({gang.size}); "
                "choose a tp_size that divides the number of heads, key/value heads, the "
                "FFN width and the vocabulary size."
            )
    shard_modules(model, gang, LLAMA_SHARD_PLAN)
    if config.tie_embeddings:
        # Both shards hold the same vocabulary rows, so the tie survives sharding.
        model.final_proj.weight = model.embed.weight
    return model
