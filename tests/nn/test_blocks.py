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


def test_rotary_tables_are_cached_grown_and_equal_direct_computation() -> None:
    rope = RotaryEncoder(8, theta=500.0, scaling=Llama3RopeScaling(original_max_seq_len=64))
    inv_freq = rope_frequencies(8, 500.0, Llama3RopeScaling(original_max_seq_len=64))

    def direct(pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        angles = pos.float()[..., None] * inv_freq
        angles = torch.cat([angles, angles], -1)
        return angles.cos(), angles.sin()

    small = rope(torch.arange(3, 5), torch.float32, start=3)
    first_table = rope._tables[(torch.device("cpu"), torch.float32)][0]
    torch.testing.assert_close(small, direct(torch.arange(3, 5)))
    # Past the first table (256 positions) it grows; sliced and gathered lookups agree.
    far = torch.arange(1000, 1003)
    torch.testing.assert_close(rope(far, torch.float32, start=1000), direct(far))
    assert rope._tables[(torch.device("cpu"), torch.float32)][0].shape[0] > first_table.shape[0]
    packed = torch.tensor([[0, 1, 0], [2, 0, 1]])
    torch.testing.assert_close(rope(packed, torch.float32), direct(packed))
    # Tables are not state: nothing is saved or loaded.
    assert rope.state_dict() == {}
    cos16, _ = rope(torch.arange(4), torch.bfloat16, start=0)
    assert cos16.dtype == torch.bfloat16


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rms_norm_matches_float32_formula(dtype: torch.dtype) -> None:
    norm = RMSNorm(16, eps=1e-5, dtype=dtype)
    with torch.no_grad():
        norm.weight.copy_(torch.randn(16))
    x = torch.randn(2, 3, 16).to(dtype)
    xf = x.float()
    expected = (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-5)).to(dtype) * norm.weight
    out = norm(x)
    assert out.dtype == dtype
    torch.testing.assert_close(out, expected)


def test_single_query_after_unpadded_cache_needs_no_mask() -> None:
    from seqkit.nn import build_self_attention_mask

    mask = build_self_attention_mask(None, 1, torch.device("cpu"), causal=True, start=5)
    assert mask.mask is None
    assert not mask.is_causal
    chunk = build_self_attention_mask(None, 2, torch.device("cpu"), causal=True, start=5)
    assert chunk.mask is not None
    assert chunk.mask[0, 0].tolist() == [[True] * 6 + [False], [True] * 7]
