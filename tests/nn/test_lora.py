"""LoRA adapters: exact at init, adapters-only training, merge equals the adapted model,
merge before fusing, and saved/exported models that load without LoRA."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.nn import Linear

from seqkit.models import ModelFamilies, ModelHub, export_hf, save_model
from seqkit.models.llama import create_llama_family
from seqkit.models.llama.model import LlamaModel
from seqkit.nn import fuse_projections
from seqkit.nn.lora import (
    LoRAConfig,
    LoRALinear,
    apply_lora,
    has_lora,
    lora_disabled,
    lora_parameters,
    merge_lora,
    merged_state_dict,
)


def _model(seed: int = 0) -> LlamaModel:
    torch.manual_seed(seed)
    model = create_llama_family().create_model("tiny").eval()
    assert isinstance(model, LlamaModel)
    return model


def _trained_adapters(model: LlamaModel, seed: int = 1) -> None:
    """Stand-in for training: non-zero B matrices (A is random from the start)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LoRALinear):
                m.lora_b.copy_(torch.randn(m.lora_b.shape, generator=gen) * 0.05)


def _seqs(model: LlamaModel) -> torch.Tensor:
    return torch.randint(
        3, model.config.vocab_size, (2, 9), generator=torch.Generator().manual_seed(3)
    )


def test_fresh_adapters_change_nothing_and_only_they_train() -> None:
    model = _model()
    seqs = _seqs(model)
    with torch.no_grad():
        before = model(seqs)
    keys = list(model.state_dict())
    adapted = apply_lora(model, LoRAConfig(rank=4, alpha=8))
    layers = model.config.num_layers
    assert len(adapted) == 7 * layers
    assert "decoder.layers.0.self_attn.q_proj" in adapted
    assert "decoder.layers.0.ffn.inner_proj" in adapted
    with torch.no_grad():
        assert torch.equal(model(seqs), before)  # B = 0
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert [id(p) for p in trainable] == [id(p) for p in lora_parameters(model)]
    state = model.state_dict()
    assert [k for k in state if "lora_" not in k] == keys  # base names unchanged
    assert "decoder.layers.0.self_attn.q_proj.lora_a" in state


def test_gradients_reach_adapters_only() -> None:
    model = _model()
    apply_lora(model, LoRAConfig(rank=2, targets=("q", "v")))
    model.train()
    model(_seqs(model)).float().pow(2).mean().backward()
    for name, p in model.named_parameters():
        if "lora_" in name:
            assert p.grad is not None, name
        else:
            assert p.grad is None, name
    attn = model.decoder.layers[0].self_attn
    assert isinstance(attn.q_proj, LoRALinear)
    assert isinstance(attn.v_proj, LoRALinear)
    assert type(attn.k_proj) is Linear
    assert type(attn.output_proj) is Linear


def test_same_seed_same_adapters() -> None:
    a, b = _model(), _model()
    apply_lora(a, LoRAConfig(rank=4), seed=7)
    apply_lora(b, LoRAConfig(rank=4), seed=7)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name


def test_merge_equals_adapted_model_and_then_fuses() -> None:
    model = _model()
    apply_lora(model, LoRAConfig(rank=4, alpha=8))
    _trained_adapters(model)
    seqs = _seqs(model)
    # An adapted projection is never fused: q/k/v and gate/up stay separate and correct.
    assert fuse_projections(model) == 0
    with torch.no_grad():
        adapted = model(seqs)
    expected_state = merged_state_dict(model)
    assert merge_lora(model) == 7 * model.config.num_layers
    assert not has_lora(model)
    state = model.state_dict()
    assert list(state) == list(expected_state)
    for key, value in expected_state.items():
        assert torch.equal(state[key], value), key
    with torch.no_grad():
        merged = model(seqs)
    torch.testing.assert_close(merged, adapted, rtol=1e-5, atol=1e-5)
    # Merged: plain Linear layers again, so inference fusing works and agrees.
    assert fuse_projections(model) == 2 * model.config.num_layers
    with torch.no_grad():
        torch.testing.assert_close(model(seqs), adapted, rtol=1e-5, atol=1e-5)


def test_fused_model_gets_adapters_and_falls_back_to_separate_layers() -> None:
    model = _model()
    fuse_projections(model)  # e.g. a model that generated samples before fine-tuning
    apply_lora(model, LoRAConfig(rank=4))
    _trained_adapters(model)
    seqs = _seqs(model)
    with torch.no_grad():
        out = model(seqs)
    reference = _model()
    reference.load_state_dict(merged_state_dict(model))
    with torch.no_grad():
        torch.testing.assert_close(out, reference(seqs), rtol=1e-5, atol=1e-5)


def test_saved_model_is_merged_and_loads_without_lora(tmp_path: Path) -> None:
    model = _model()
    apply_lora(model, LoRAConfig(rank=4, targets=("q", "k", "v", "o", "up")))
    _trained_adapters(model)
    seqs = _seqs(model)
    with torch.no_grad():
        expected = model(seqs)
    save_model(model, tmp_path / "m")
    loaded = ModelHub(_families()).load(tmp_path / "m")
    assert not has_lora(loaded)
    assert all("lora_" not in k for k in loaded.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(loaded(seqs), expected, rtol=1e-5, atol=1e-5)
    assert has_lora(model)  # saving does not merge the model itself


def test_hf_export_of_an_adapted_model_loads_in_transformers(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    model = _model()
    apply_lora(model, LoRAConfig(rank=4))
    _trained_adapters(model)
    seqs = _seqs(model)
    with torch.no_grad():
        expected = model(seqs)
    export_hf(model, tmp_path / "hf", _families())
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    with torch.no_grad():
        got = hf(input_ids=seqs).logits
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_bad_configs_are_rejected() -> None:
    with pytest.raises(ValueError, match="targets"):
        LoRAConfig(targets=("query",))
    with pytest.raises(ValueError, match="rank"):
        LoRAConfig(rank=0)
    model = _model()
    apply_lora(model, LoRAConfig(rank=2))
    with pytest.raises(ValueError, match="already has LoRA"):
        apply_lora(model, LoRAConfig(rank=2))
    with pytest.raises(ValueError, match="no projection"):
        apply_lora(torch.nn.Sequential(Linear(2, 2)), LoRAConfig(rank=2))


def _families() -> ModelFamilies:
    return ModelFamilies([create_llama_family()])


def test_disabled_adapters_give_the_base_model() -> None:
    model = _model()
    seqs = _seqs(model)
    with torch.no_grad():
        base = model(seqs)
    apply_lora(model, LoRAConfig(rank=4))
    _trained_adapters(model)
    with torch.no_grad(), lora_disabled(model):
        assert torch.equal(model(seqs), base)
    with torch.no_grad():
        assert not torch.equal(model(seqs), base)
