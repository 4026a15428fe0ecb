"""Model FLOPs per trained token, for model FLOPs utilization (MFU); see docs/trainer.md.

Training FLOPs per token = ``6 * N + 12 * L * A * S`` (PaLM, Chowdhery et al. 2022,
appendix B):

* ``N`` counts the weights that multiply each token's activations: every linear layer
  of the transformer layers (q/k/v/output projections, FFN) and the output (vocabulary)
  projection, even when it is tied to the embedding. Not counted: the input embedding (a
  table lookup, no multiply), norm gains and biases (elementwise). A matmul of an
  ``[in, out]`` weight costs ``2 * in * out`` FLOPs forward and twice that backward (the
  gradients of input and weight): ``6`` per weight per token.
* ``12 * L * A * S``: attention scores ``Q K^T`` and the weighted sum ``P V`` cost
  ``2 * S * A`` FLOPs each per token and layer forward (``A`` = heads x head_dim, ``S``
  the sequence length), times 3 for forward + backward. Like PaLM (and torchtitan,
  Megatron) the full ``S x S`` score matrix is counted although causal attention needs
  only its lower half (``causal_half=True`` counts that half instead); the convention
  keeps MFU figures comparable with theirs.
"""

from __future__ import annotations

from torch.nn import Linear, Module

from seqkit.models.llama.config import LlamaConfig


def transformer_flops_per_token(
    *, matmul_params: int, num_layers: int, attn_dim: int, seq_len: int, causal_half: bool = False
) -> float:
    """``6 * matmul_params + 12 * num_layers * attn_dim * seq_len`` (halved attention
    with ``causal_half``)."""
    attention = 12 * num_layers * attn_dim * seq_len
    return float(6 * matmul_params + (attention // 2 if causal_half else attention))


def llama_matmul_params(config: LlamaConfig) -> int:
    """The weights of a llama's linear layers, output projection included (see above)."""
    d, hd = config.model_dim, config.resolved_head_dim
    h, kv = config.num_attn_heads, config.num_key_value_heads
    attn = d * h * hd + 2 * d * kv * hd + h * hd * d
    ffn = 3 * d * config.ffn_inner_dim  # gate, inner, output (SwiGLU)
    return config.num_layers * (attn + ffn) + d * config.vocab_size


def llama_flops_per_token(
    config: LlamaConfig, seq_len: int | None = None, *, causal_half: bool = False
) -> float:
    """Training FLOPs per token of a llama at ``seq_len`` (default: ``max_seq_len``)."""
    return transformer_flops_per_token(
        matmul_params=llama_matmul_params(config),
        num_layers=config.num_layers,
        attn_dim=config.num_attn_heads * config.resolved_head_dim,
        seq_len=seq_len or config.max_seq_len,
        causal_half=causal_half,
    )


def model_flops_per_token(model: Module, seq_len: int | None = None) -> float | None:
    """Training FLOPs per token of a decoder-only llama; ``None`` for other models
    (an encoder-decoder's cost depends on the source/target split of each batch)."""
    config = getattr(model, "config", None)
    if isinstance(config, LlamaConfig):
        return llama_flops_per_token(config, seq_len)
    return None


def count_linear_weights(model: Module) -> int:
    """The number of elements of ``model``'s ``Linear`` weights (tied ones once)."""
    seen = {id(m.weight): m.weight.numel() for m in model.modules() if isinstance(m, Linear)}
    return sum(seen.values())
