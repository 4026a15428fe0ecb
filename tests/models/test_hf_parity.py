"""seqkit llama vs Hugging Face transformers (an independent implementation)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqkit.models import ModelFamilies, ModelHub, export_hf
from seqkit.nn import BatchLayout, IncrementalStateBag

transformers = pytest.importorskip("transformers")

_COMMON = {
    "vocab_size": 300,
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 128,
    "rms_norm_eps": 1e-6,
}


def _hf_model(kind: str, tie: bool) -> torch.nn.Module:
    if kind == "llama":
        config = transformers.LlamaConfig(
            **_COMMON,
            tie_word_embeddings=tie,
            rope_parameters={
                "rope_type": "llama3",
                "rope_theta": 10000.0,
                "factor": 4.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 16,
            },
        )
        model = transformers.LlamaForCausalLM(config)
    else:
        config = transformers.Qwen2Config(**_COMMON, tie_word_embeddings=tie, rope_theta=10000.0)
        model = transformers.Qwen2ForCausalLM(config)
    # HF initializes biases to zero; randomize them so q/k/v bias handling is exercised.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                param.normal_(0, 0.5)
    return model.eval()


@pytest.mark.parametrize(("kind", "tie"), [("llama", False), ("qwen2", True)])
def test_logits_match_transformers(
    kind: str, tie: bool, tmp_path: Path, families: ModelFamilies
) -> None:
    hf = _hf_model(kind, tie)
    hf.save_pretrained(tmp_path / "hf")
    model = ModelHub(families).load(tmp_path / "hf")
    assert model.config.qkv_bias == (kind == "qwen2")
    assert model.config.tie_embeddings == tie

    seqs = torch.randint(0, 300, (3, 11))
    seq_lens = torch.tensor([11, 7, 4])
    attention_mask = (torch.arange(11)[None] < seq_lens[:, None]).long()
    with torch.no_grad():
        expected = hf(input_ids=seqs, attention_mask=attention_mask).logits
        ours = model(seqs, BatchLayout(seq_lens))
    for row, n in enumerate(seq_lens.tolist()):
        assert (ours[row, :n] - expected[row, :n]).abs().max() < 1e-4

    # Incremental decoding against HF's own KV-cache decoding of the unpadded batch.
    with torch.no_grad():
        out = hf(input_ids=seqs[:, :5], use_cache=True)
        hf_steps = [out.logits]
        past = out.past_key_values
        for step in range(5, 11):
            out = hf(input_ids=seqs[:, step : step + 1], past_key_values=past, use_cache=True)
            past = out.past_key_values
            hf_steps.append(out.logits)
        bag = IncrementalStateBag(11)
        our_steps = [model(seqs[:, :5], state_bag=bag)]
        bag.increment_step_nr(5)
        for step in range(5, 11):
            our_steps.append(model(seqs[:, step : step + 1], state_bag=bag))
            bag.increment_step_nr()
    assert (torch.cat(our_steps, 1) - torch.cat(hf_steps, 1)).abs().max() < 1e-4


def test_export_round_trips_through_transformers(tmp_path: Path, families: ModelFamilies) -> None:
    model = families.get("llama").create_model("qwen2_tiny").eval()
    export_hf(model, tmp_path / "out", families)
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out").eval()
    assert type(hf).__name__ == "Qwen2ForCausalLM"
    seqs = torch.randint(0, 512, (2, 6))
    with torch.no_grad():
        assert (hf(input_ids=seqs).logits - model(seqs)).abs().max() < 1e-4
