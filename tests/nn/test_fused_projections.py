"""Fused q/k/v and gate/inner projections: same numbers, same parameters, safe fallback."""

from __future__ import annotations

import copy

import torch

from seqkit.generation import BeamSearchGenerator, SamplingGenerator
from seqkit.models.llama import create_llama_family
from seqkit.models.llama.model import LlamaModel
from seqkit.nn import (
    AttentionMask,
    GLUFeedForwardNetwork,
    IncrementalStateBag,
    MultiheadAttention,
    fuse_projections,
)


def _model(seed: int = 0) -> LlamaModel:
    torch.manual_seed(seed)
    model = create_llama_family().create_model("tiny").eval()
    assert isinstance(model, LlamaModel)
    return model


def test_fused_model_gives_the_same_logits_and_keeps_the_state_dict() -> None:
    model = _model()
    plain = copy.deepcopy(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert fuse_projections(model) == 2 * model.config.num_layers
    after = model.state_dict()
    assert list(after) == list(before)
    for key, value in before.items():
        assert torch.equal(after[key], value), key
    seqs = torch.randint(3, model.config.vocab_size, (3, 11))
    with torch.no_grad():
        torch.testing.assert_close(model(seqs), plain(seqs), rtol=1e-5, atol=1e-5)
        # Incremental decoding: prefill, then single steps, against the unfused model.
        bags = [IncrementalStateBag(11), IncrementalStateBag(11)]
        for start, end in [(0, 6), *[(i, i + 1) for i in range(6, 11)]]:
            outs = []
            for m, bag in zip((model, plain), bags, strict=True):
                outs.append(m(seqs[:, start:end], state_bag=bag))
                bag.increment_step_nr(end - start)
            torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=1e-5)
    # Idempotent: a second call keeps the fused tensors.
    fused = model.decoder.layers[0].self_attn._fused_qkv
    assert fuse_projections(model) == 2 * model.config.num_layers
    assert model.decoder.layers[0].self_attn._fused_qkv is fused


def test_fused_parameters_are_views_that_training_and_loading_update() -> None:
    attn = MultiheadAttention(32, 4, num_kv_heads=2, qkv_bias=True)
    params = list(attn.parameters())
    assert attn.fuse_projections()
    assert list(attn.parameters()) == params  # same Parameter objects for optimizers
    fused = attn._fused_qkv
    assert fused is not None
    assert fused.weight.data_ptr() == attn.q_proj.weight.data_ptr()
    x = torch.randn(2, 5, 32)
    mask = AttentionMask(is_causal=True)
    # With autograd on, the separate projections run and get gradients.
    attn(x, mask).sum().backward()
    assert attn.k_proj.weight.grad is not None
    torch.optim.SGD(attn.parameters(), lr=0.1).step()
    with torch.no_grad():
        expected = attn._attend(
            attn._split_heads(attn.q_proj(x)),
            attn._split_heads(attn.k_proj(x)),
            attn._split_heads(attn.v_proj(x)),
            x,
            mask,
        )
        torch.testing.assert_close(attn(x, mask), expected, rtol=1e-5, atol=1e-5)
    state = {k: torch.randn_like(v) for k, v in attn.state_dict().items()}
    attn.load_state_dict(state)
    assert torch.equal(fused.weight[32:48], state["k_proj.weight"])
    assert torch.equal(fused.bias[48:], state["v_proj.bias"])  # type: ignore[index]


def test_fused_projections_fall_back_when_the_link_breaks() -> None:
    ffn = GLUFeedForwardNetwork(16, 24)
    assert ffn.fuse_projections()
    x = torch.randn(3, 16)
    # A cast or move replaces the parameter data: the stale fused tensor must not be used.
    ffn.to(torch.float64)
    with torch.no_grad():
        out = ffn(x.double())
        assert ffn._fused is None
        ref = ffn.output_proj(
            torch.nn.functional.silu(ffn.gate_proj(x.double())) * ffn.inner_proj(x.double())
        )
        torch.testing.assert_close(out, ref)
    # A swapped layer (what a tensor-parallel sharder does) is never fused.
    attn = MultiheadAttention(32, 4)
    assert attn.fuse_projections()
    attn.k_proj = torch.nn.Linear(32, 32, bias=False)
    with torch.no_grad():
        attn(torch.randn(1, 2, 32), AttentionMask(is_causal=True))
    assert attn._fused_qkv is None
    assert attn.fuse_projections()  # fusing again picks up the new layer


class _NotFusable(torch.nn.Linear):
    """A Linear subclass (like a sharded layer): never fused."""


def _unfusable(model: LlamaModel) -> LlamaModel:
    for layer in model.decoder.layers:
        for owner, name in [(layer.self_attn, "q_proj"), (layer.ffn, "gate_proj")]:
            old = getattr(owner, name)
            new = _NotFusable(old.in_features, old.out_features, bias=old.bias is not None)
            new.load_state_dict(old.state_dict())
            setattr(owner, name, new)
    return model


def test_generators_fuse_and_match_the_unfused_model() -> None:
    model = _model(1)
    plain = _unfusable(copy.deepcopy(model))
    prompts = [torch.tensor([1, 5, 9, 14]), torch.tensor([1, 7]), torch.tensor([1, 3, 3])]
    greedy = SamplingGenerator(eos_idx=2, max_gen_len=12)
    beam = BeamSearchGenerator(eos_idx=2, beam_size=3, max_gen_len=10)
    unfused_greedy = greedy.generate(plain, prompts)
    unfused_beam = beam.generate(plain, prompts)
    assert fuse_projections(plain) == 0
    fused_greedy = greedy.generate(model, prompts)
    fused_beam = beam.generate(model, prompts)
    assert model.decoder.layers[0].self_attn._fused_qkv is not None
    for got, want in zip(fused_greedy.hypotheses, unfused_greedy.hypotheses, strict=True):
        assert torch.equal(got[0].tokens, want[0].tokens)
    for got, want in zip(fused_beam.hypotheses, unfused_beam.hypotheses, strict=True):
        assert [h.tokens.tolist() for h in got] == [h.tokens.tolist() for h in want]
        for h, w in zip(got, want, strict=True):
            assert abs(h.score - w.score) < 1e-4


def test_fused_ffn_keeps_dropout_in_training_mode() -> None:
    ffn = GLUFeedForwardNetwork(16, 24, dropout_p=0.5).train()
    assert ffn.fuse_projections()
    x = torch.randn(4, 16)
    with torch.no_grad():
        torch.manual_seed(3)
        out = ffn(x)
        torch.manual_seed(3)
        hidden = torch.nn.functional.silu(ffn.gate_proj(x)) * ffn.inner_proj(x)
        ref = ffn.output_proj(ffn.inner_dropout(hidden))
    torch.testing.assert_close(out, ref)
