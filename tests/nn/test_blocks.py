from __future__ import annotations

import math

import pytest
import torch

from seqkit.nn import (
    AttentionMask,
    GLUFeedForwardNetwork,
    LayerNorm,
    LearnedPositionEncoder,
    Llama3RopeScaling,
    MultiheadAttention,
    RMSNorm,
    RotaryEncoder,
    SinusoidalPositionEncoder,
    apply_rotary,
    rope_frequencies,
)


def _reference_attention(attn: MultiheadAttention, x: torch.Tensor, causal: bool) -> torch.Tensor:
    """Attention written out with explicit softmax, repeating kv heads (no SDPA)."""
    b, s, _ = x.shape
    d = attn.head_dim
    q = attn.q_proj(x).view(b, s, attn.num_heads, d).transpose(1, 2)
    k = attn.k_proj(x).view(b, s, attn.num_kv_heads, d).transpose(1, 2)
    v = attn.v_proj(x).view(b, s, attn.num_kv_heads, d).transpose(1, 2)
    rep = attn.num_heads // attn.num_kv_heads
    k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
    scores = q @ k.transpose(-1, -2) / math.sqrt(d)
    if causal:
        scores = scores.masked_fill(torch.ones(s, s, dtype=torch.bool).triu(1), float("-inf"))
    out = scores.softmax(-1) @ v
    return attn.output_proj(out.transpose(1, 2).reshape(b, s, -1))


@pytest.mark.parametrize("kv_heads", [1, 2, 4])
def test_grouped_query_attention_matches_explicit_softmax(kv_heads: int) -> None:
    torch.manual_seed(0)
    attn = MultiheadAttention(16, 4, num_kv_heads=kv_heads, qkv_bias=True, init_std=0.3)
    x = torch.randn(2, 5, 16)
    for causal in (True, False):
        out = attn(x, AttentionMask(is_causal=causal))
        torch.testing.assert_close(out, _reference_attention(attn, x, causal))


def test_attention_rejects_bad_head_counts() -> None:
    with pytest.raises(ValueError, match="multiple"):
        MultiheadAttention(16, 4, num_kv_heads=3)
    with pytest.raises(ValueError, match="divisible"):
        MultiheadAttention(10, 4)


def test_rms_norm_and_layer_norm() -> None:
    x = torch.randn(3, 8) * 5
    rms = RMSNorm(8, eps=0.0)
    torch.testing.assert_close(rms(x), x / x.pow(2).mean(-1, keepdim=True).sqrt())
    ln = LayerNorm(8)
    torch.testing.assert_close(ln(x), torch.nn.functional.layer_norm(x, (8,)))
    # bf16 input: statistics in fp32, result in bf16 close to the fp32 result.
    rms_bf16 = RMSNorm(8, eps=0.0, dtype=torch.bfloat16)
    out = rms_bf16(x.bfloat16())
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), rms(x), atol=0.05, rtol=0.02)


def test_swiglu() -> None:
    ffn = GLUFeedForwardNetwork(4, 6, init_std=0.5)
    x = torch.randn(2, 4)
    expected = ffn.output_proj(torch.nn.functional.silu(ffn.gate_proj(x)) * ffn.inner_proj(x))
    torch.testing.assert_close(ffn(x), expected)


def test_sinusoidal_and_learned_positions() -> None:
    enc = SinusoidalPositionEncoder(4)
    out = enc(torch.zeros(1, 3, 4), torch.arange(3))
    # Position p: [sin(p), sin(p / 100), cos(p), cos(p / 100)] for dim 4.
    p = torch.arange(3.0)
    expected = torch.stack([p.sin(), (p / 100).sin(), p.cos(), (p / 100).cos()], -1)
    torch.testing.assert_close(out[0], expected)
    learned = LearnedPositionEncoder(4, 3)
    with pytest.raises(ValueError, match="max_seq_len"):
        learned(torch.zeros(1, 4, 4), torch.arange(4))


def test_rotary_preserves_norms_and_is_relative() -> None:
    rope = RotaryEncoder(8, theta=10000.0)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)

    def score(i: int, j: int) -> torch.Tensor:
        cq, sq = rope(torch.tensor([i]), torch.float32)
        ck, sk = rope(torch.tensor([j]), torch.float32)
        return (apply_rotary(q, cq, sq) * apply_rotary(k, ck, sk)).sum()

    torch.testing.assert_close(score(3, 1), score(10, 8))
    cos, sin = rope(torch.tensor([5]), torch.float32)
    torch.testing.assert_close(apply_rotary(q, cos, sin).norm(), q.norm())


def test_llama3_scaling_matches_transformers() -> None:
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    hf = LlamaConfig(
        hidden_size=256,
        num_attention_heads=2,
        rope_parameters={
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        },
    )
    expected, _ = ROPE_INIT_FUNCTIONS["llama3"](hf, "cpu")
    ours = rope_frequencies(128, 500000.0, Llama3RopeScaling())
    torch.testing.assert_close(ours, expected.float())
    assert not torch.allclose(ours, rope_frequencies(128, 500000.0))
