from __future__ import annotations

import pytest
import torch

from seqkit.nn import (
    AttentionMask,
    IncrementalStateBag,
    IncrementalStateError,
    MultiheadAttention,
    SelfAttentionCache,
    build_self_attention_mask,
)


def test_step_counter_and_overflow() -> None:
    bag = IncrementalStateBag(4)
    bag.increment_step_nr(3)
    assert bag.step_nr == 3
    assert bag.max_num_steps == 4
    with pytest.raises(IncrementalStateError, match="max_num_steps"):
        bag.increment_step_nr(2)
    with pytest.raises(IncrementalStateError):
        IncrementalStateBag(0)


def test_get_state_checks_the_kind() -> None:
    bag = IncrementalStateBag(4)
    module = torch.nn.Linear(2, 2)
    cache = SelfAttentionCache(torch.zeros(1, 1, 1, 2), torch.zeros(1, 1, 1, 2), 4)
    bag.set_state(module, cache)
    assert bag.get_state(module, SelfAttentionCache) is cache
    from seqkit.nn import CrossAttentionCache

    with pytest.raises(IncrementalStateError, match="SelfAttentionCache"):
        bag.get_state(module, CrossAttentionCache)


def test_cached_attention_matches_full_attention_and_reorders() -> None:
    torch.manual_seed(0)
    attn = MultiheadAttention(16, 4, num_kv_heads=2, init_std=0.2).eval()
    x = torch.randn(3, 6, 16)
    full = attn(x, AttentionMask(is_causal=True))

    bag = IncrementalStateBag(6)
    outs = []
    for step in range(6):
        mask = build_self_attention_mask(None, 1, x.device, causal=True, start=step)
        outs.append(attn(x[:, step : step + 1], mask, state_bag=bag))
        bag.increment_step_nr()
    torch.testing.assert_close(torch.cat(outs, 1), full, atol=1e-5, rtol=1e-5)

    # Beam search: after reordering, row i continues what old row order[i] started.
    order = torch.tensor([2, 2, 0])
    bag2 = IncrementalStateBag(7)
    mask = build_self_attention_mask(None, 5, x.device, causal=True)
    attn(x[:, :5], mask, state_bag=bag2)
    bag2.increment_step_nr(5)
    bag2.reorder(order)
    last = x[order, 5:6]
    step_mask = build_self_attention_mask(None, 1, x.device, causal=True, start=5)
    out = attn(last, step_mask, state_bag=bag2)
    expected = attn(torch.cat([x[order, :5], last], 1), AttentionMask(is_causal=True))[:, 5:]
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_cache_overflow_is_reported() -> None:
    attn = MultiheadAttention(8, 2)
    bag = IncrementalStateBag(2)
    mask = build_self_attention_mask(None, 3, torch.device("cpu"), causal=True)
    with pytest.raises(IncrementalStateError, match="larger `max_num_steps`"):
        attn(torch.randn(1, 3, 8), mask, state_bag=bag)
