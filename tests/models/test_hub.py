from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from seqkit.composition import create_container
from seqkit.models import (
    CheckpointError,
    ModelError,
    ModelFamilies,
    ModelHub,
    StateDictMismatchError,
    create_model,
    save_model,
    save_safetensors,
)
from seqkit.models.weights import SafetensorsFile


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0)


@pytest.mark.parametrize(("family", "arch"), [("llama", "tiny"), ("transformer", "tiny")])
def test_save_and_load_round_trip(
    family: str, arch: str, tmp_path: Path, families: ModelFamilies
) -> None:
    model = create_model(family, arch, families=families)
    if family == "llama":
        model.config.tie_embeddings = True  # exercise tie handling as well
        model = create_model(family, model.config, families=families)
    save_model(model, tmp_path / "ckpt")
    document = yaml.safe_load((tmp_path / "ckpt" / "model.yaml").read_text())
    assert document["model_family"] == family
    assert document["format"] == "seqkit.model"

    loaded = ModelHub(families).load(tmp_path / "ckpt")
    assert not loaded.training
    assert type(loaded) is type(model)
    assert loaded.config == model.config
    _same_weights(model, loaded)
    assert not any(p.is_meta for p in loaded.parameters())
    # Ties survive loading as one Parameter object.
    assert len(list(loaded.parameters())) == len(list(model.parameters()))


def test_tied_weights_are_written_once(tmp_path: Path, families: ModelFamilies) -> None:
    model = families.get("transformer").create_model("tiny")
    save_model(model, tmp_path)
    keys = SafetensorsFile(tmp_path / "model.safetensors").shapes()
    assert "encoder_frontend.embed.weight" in keys
    assert "decoder_frontend.embed.weight" not in keys
    assert "final_proj.weight" not in keys


def test_load_casts_dtype_and_single_file_uses_sibling_yaml(
    tmp_path: Path, families: ModelFamilies
) -> None:
    model = families.get("llama").create_model("tiny")
    save_model(model, tmp_path)
    loaded = ModelHub(families).load(tmp_path / "model.safetensors", dtype=torch.bfloat16)
    assert all(p.dtype == torch.bfloat16 for p in loaded.parameters())
    torch.testing.assert_close(loaded.embed.weight.float(), model.embed.weight.bfloat16().float())


def test_mismatched_checkpoint_lists_every_problem(tmp_path: Path, families: ModelFamilies) -> None:
    model = families.get("llama").create_model("tiny")
    save_model(model, tmp_path)
    state = dict(model.state_dict())
    del state["decoder.layers.0.ffn.gate_proj.weight"]
    state["decoder.layers.1.ffn_norm.weight"] = torch.ones(3)
    state["bogus.weight"] = torch.ones(1)
    save_safetensors(state.items(), tmp_path / "model.safetensors")
    with pytest.raises(StateDictMismatchError) as info:
        ModelHub(families).load(tmp_path)
    message = str(info.value)
    assert "missing (1): decoder.layers.0.ffn.gate_proj.weight" in message
    assert "unexpected (1): bogus.weight" in message
    assert "shape of decoder.layers.1.ffn_norm.weight: model [64], checkpoint [3]" in message


def test_torch_pickles_load_only_when_weights_only(tmp_path: Path, families: ModelFamilies) -> None:
    model = families.get("llama").create_model("tiny")
    save_model(model, tmp_path)
    (tmp_path / "model.safetensors").unlink()
    torch.save({"model": model.state_dict()}, tmp_path / "model.pt")
    _same_weights(model, ModelHub(families).load(tmp_path / "model.pt"))

    torch.save({"model": model.state_dict(), "hook": _Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="weights_only=True"):
        ModelHub(families).load(tmp_path / "evil.pt")


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("this must never run",))


def test_bad_inputs_give_clear_errors(tmp_path: Path, families: ModelFamilies) -> None:
    hub = ModelHub(families)
    with pytest.raises(CheckpointError, match="no such file"):
        hub.load(tmp_path / "missing")
    with pytest.raises(CheckpointError, match=r"neither model\.yaml"):
        hub.load(tmp_path)
    (tmp_path / "w.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(CheckpointError, match="a weights file alone"):
        hub.load(tmp_path / "w.safetensors")
    (tmp_path / "model.yaml").write_text("format: seqkit.model\nmodel_family: llama\n")
    with pytest.raises(CheckpointError, match=r"too short|corrupt|not valid JSON"):
        hub.load(tmp_path / "w.safetensors")
    with pytest.raises(ModelError, match="no asset store"):
        hub.load("some-card-name")


def test_sharded_hf_checkpoint_loads(tmp_path: Path, families: ModelFamilies) -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(
        vocab_size=256,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
    )
    hf = transformers.LlamaForCausalLM(config).eval()
    hf.save_pretrained(tmp_path, max_shard_size="20KB")
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    model = ModelHub(families).load(tmp_path)
    seqs = torch.randint(0, 256, (1, 6))
    with torch.no_grad():
        assert (model(seqs) - hf(input_ids=seqs).logits).abs().max() < 1e-4


def test_card_file_resolves_checkpoint_and_overrides(tmp_path: Path) -> None:
    container = create_container()
    hub = container.resolve(ModelHub)
    model = create_model("llama", "tiny", families=container.resolve(ModelFamilies))
    save_model(model, tmp_path / "weights")
    card = tmp_path / "my-llama.yaml"
    card.write_text(
        "name: my-llama\nmodel_family: llama\nmodel_arch: tiny\ncheckpoint: weights\n"
        "model_config:\n  dropout_p: 0.25\n"
    )
    loaded = hub.load(str(card))
    assert loaded.config.dropout_p == 0.25
    _same_weights(model, loaded)

    card.write_text(
        "name: my-llama\nmodel_family: llama\ncheckpoint: weights\nmodel_config:\n  num_layers: 1\n"
    )
    with pytest.raises(StateDictMismatchError, match="unexpected"):
        hub.load(str(card))


def test_card_pointing_at_a_hugging_face_directory(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.Qwen2Config(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    hf = transformers.Qwen2ForCausalLM(config).eval()
    hf.save_pretrained(tmp_path / "qwen")
    card = tmp_path / "qwen.yaml"
    card.write_text("name: qwen-mini\nmodel_family: llama\ncheckpoint: qwen\n")
    model = create_container().resolve(ModelHub).load(str(card))
    assert model.config.qkv_bias
    seqs = torch.randint(0, 128, (2, 4))
    with torch.no_grad():
        assert (model(seqs) - hf(input_ids=seqs).logits).abs().max() < 1e-4
