from __future__ import annotations

import pytest
import torch

from seqkit.models import ModelConfigError, ModelFamilies, UnknownModelArchError
from seqkit.models.llama import LLAMA_ARCHS, LlamaConfig, LlamaModel, create_llama_model
from seqkit.nn import BatchLayout, IncrementalStateBag


def _tiny(**overrides: object) -> LlamaModel:
    config = LLAMA_ARCHS["tiny"]()
    for key, value in overrides.items():
        setattr(config, key, value)
    return create_llama_model(config).eval()


@pytest.mark.parametrize("qkv_bias", [False, True])
def test_incremental_decoding_equals_full_forward(qkv_bias: bool) -> None:
    model = _tiny(qkv_bias=qkv_bias)
    seqs = torch.randint(0, 512, (3, 9))
    full = model(seqs)
    bag = IncrementalStateBag(12)
    chunks = [model(seqs[:, :4], state_bag=bag)]
    bag.increment_step_nr(4)
    for step in range(4, 9):
        chunks.append(model(seqs[:, step : step + 1], state_bag=bag))
        bag.increment_step_nr()
    torch.testing.assert_close(torch.cat(chunks, 1), full, atol=1e-5, rtol=1e-4)


def test_padded_rows_match_unpadded_rows() -> None:
    model = _tiny()
    seqs = torch.randint(0, 512, (2, 7))
    logits = model(seqs, BatchLayout(torch.tensor([7, 4])))
    torch.testing.assert_close(logits[1, :4], model(seqs[1:, :4])[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(logits[0], model(seqs[:1])[0], atol=1e-5, rtol=1e-4)


def test_packed_documents_do_not_see_each_other() -> None:
    model = _tiny()
    seqs = torch.randint(0, 512, (1, 8))
    logits = model(seqs, BatchLayout.packed([[3, 5]]))
    torch.testing.assert_close(logits[0, :3], model(seqs[:, :3])[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(logits[0, 3:], model(seqs[:, 3:])[0], atol=1e-5, rtol=1e-4)


def test_padding_seen_in_prefill_is_never_attended_later() -> None:
    model = _tiny()
    seqs = torch.randint(0, 512, (2, 6))
    other = seqs.clone()
    other[1, 2:4] = torch.tensor([7, 9])  # different tokens in row 1's padding

    def step(batch: torch.Tensor, layout: BatchLayout | None) -> torch.Tensor:
        bag = IncrementalStateBag(8)
        model(batch[:, :4], layout, state_bag=bag)
        bag.increment_step_nr(4)
        return model(batch[:, 4:5], state_bag=bag)

    layout = BatchLayout(torch.tensor([4, 2]))
    torch.testing.assert_close(step(seqs, layout)[1], step(other, layout)[1])
    # Without the layout the pads are attended, so the same change shows up.
    assert not torch.allclose(step(seqs, None)[1], step(other, None)[1])


def test_tied_embeddings_share_one_parameter() -> None:
    model = _tiny(tie_embeddings=True)
    assert model.final_proj.weight is model.embed.weight
    assert len(list(model.parameters())) == len({id(p) for p in model.parameters()})


def test_gradients_flow_in_training() -> None:
    model = _tiny(dropout_p=0.1).train()
    seqs = torch.randint(0, 512, (2, 5))
    model(seqs).logsumexp(-1).mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_config_validation_and_arch_errors(families: ModelFamilies) -> None:
    with pytest.raises(ValueError, match="multiple of"):
        LlamaConfig(num_attn_heads=6, num_key_value_heads=4)
    llama = families.get("llama")
    with pytest.raises(UnknownModelArchError, match="did you mean 'tiny'"):
        llama.arch_config("tinyy")
    with pytest.raises(ModelConfigError, match="LlamaConfig"):
        llama.create_model(object())
    config = llama.structure_config({"num_layers": 1}, base=llama.arch_config("tiny"))
    assert isinstance(config, LlamaConfig)
    assert config.num_layers == 1
    assert config.model_dim == 64


def test_large_archs_build_on_meta(families: ModelFamilies) -> None:
    llama = families.get("llama")
    model = llama.create_model("llama3_8b", device=torch.device("meta"))
    assert sum(p.numel() for p in model.parameters()) == 8_030_261_248
    assert model.family == "llama"
    assert isinstance(model.config, LlamaConfig)


def test_last_only_projects_the_last_position() -> None:
    model = _tiny()
    seqs = torch.randint(0, 512, (2, 6))
    full = model(seqs)
    torch.testing.assert_close(model(seqs, last_only=True), full[:, -1:])
    bag = IncrementalStateBag(8)
    prefill = model(seqs[:, :5], state_bag=bag, last_only=True)
    bag.increment_step_nr(5)
    assert prefill.shape == (2, 1, 512)
    torch.testing.assert_close(prefill, full[:, 4:5], atol=1e-5, rtol=1e-4)
    step = model(seqs[:, 5:], state_bag=bag)
    torch.testing.assert_close(step, full[:, 5:], atol=1e-5, rtol=1e-4)
