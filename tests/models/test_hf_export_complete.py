"""``seqkit models export --format hf``: the export is complete (tokenizer, generation
config, special ids) and transformers computes what seqkit computes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seqkit.cli.main import main
from seqkit.models import ModelFamilies, ModelHub, export_hf, save_model
from seqkit.recipes.card import ModelCardInfo, write_card
from seqkit.text import HuggingFaceTokenizer, SentencePieceTokenizer
from tests.models.hf_fixtures import TEXTS, hf_llama_folder, sentencepiece_model

transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")


def _run_dir(tmp_path: Path, families: ModelFamilies, family: str, arch: str) -> Path:
    """A directory laid out like a training run's: model/, tokenizer/spm.model, card.yaml."""
    run = tmp_path / "run"
    spm = sentencepiece_model(run / "tokenizer")
    config = families.get(family).arch_config(arch)
    config.vocab_size = SentencePieceTokenizer.from_file(spm).vocab_info.size
    model = families.get(family).create_model(config).eval()
    save_model(model, run / "model")
    info = ModelCardInfo(
        name="run",
        family=family,
        model_dir=run / "model",
        tokenizer=spm,
        tokenizer_family="sentencepiece",
        task="lm",
    )
    write_card(info, run)
    return run


@pytest.mark.parametrize("source", ["run", "card", "model_dir"])
def test_llama_export_has_tokenizer_and_generation_config(
    source: str, tmp_path: Path, families: ModelFamilies
) -> None:
    run = _run_dir(tmp_path, families, "llama", "tiny")
    arg = {"run": run, "card": run / "card.yaml", "model_dir": run / "model"}[source]
    out = tmp_path / "hf"
    assert main(["models", "export", str(arg), str(out)]) == 0
    names = ["config.json", "model.safetensors", "generation_config.json", "tokenizer.json"]
    names += ["tokenizer_config.json", "special_tokens_map.json", "tokenizer.model"]
    for name in names:
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert (config["bos_token_id"], config["eos_token_id"], config["pad_token_id"]) == (1, 2, 3)
    generation = json.loads((out / "generation_config.json").read_text())
    assert (generation["bos_token_id"], generation["eos_token_id"]) == (1, 2)

    ours_tok = SentencePieceTokenizer.from_file(run / "tokenizer" / "spm.model")
    hf_tok = transformers.AutoTokenizer.from_pretrained(out)
    encoder = ours_tok.create_encoder(mode="prompt")  # <s> text, as HF Llama tokenizers do
    for text in TEXTS:
        assert hf_tok(text)["input_ids"] == encoder(text).tolist(), repr(text)
    assert hf_tok.decode(hf_tok("in the beginning")["input_ids"], skip_special_tokens=True) == (
        "in the beginning"
    )

    ours = ModelHub(families).load(run / "model")
    hf = transformers.AutoModelForCausalLM.from_pretrained(out).eval()
    ids = hf_tok(["in the beginning God", "earth"], return_tensors="pt", padding=True)
    seqs = ids["input_ids"][:1]
    with torch.no_grad():
        assert (hf(input_ids=seqs).logits - ours(seqs)).abs().max() < 1e-4
        generated = hf.generate(**ids, max_new_tokens=4, do_sample=False)
    assert generated.shape[0] == 2
    assert hf.generation_config.eos_token_id == 2
    assert hf.generation_config.pad_token_id == 3


def test_hf_folder_export_copies_its_tokenizer(tmp_path: Path, families: ModelFamilies) -> None:
    folder = hf_llama_folder(tmp_path / "hf_in")
    out = tmp_path / "hf_out"
    assert main(["models", "export", str(folder), str(out)]) == 0
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        assert (out / name).read_bytes() == (folder / name).read_bytes(), name
    ours_tok = HuggingFaceTokenizer.from_path(folder)
    hf_tok = transformers.AutoTokenizer.from_pretrained(out)
    encoder = ours_tok.create_encoder(mode="prompt")
    for text in TEXTS:
        assert hf_tok(text)["input_ids"] == encoder(text).tolist(), repr(text)
    assert hf_tok.chat_template  # the chat template travels with tokenizer_config.json
    ours = ModelHub(families).load(folder)
    hf = transformers.AutoModelForCausalLM.from_pretrained(out).eval()
    seqs = torch.tensor([encoder("in the beginning").tolist()])
    with torch.no_grad():
        assert (hf(input_ids=seqs).logits - ours(seqs)).abs().max() < 1e-4
    config = json.loads((out / "config.json").read_text())
    assert (config["bos_token_id"], config["eos_token_id"], config["pad_token_id"]) == (1, 2, 3)


def test_transformer_exports_as_marian(tmp_path: Path, families: ModelFamilies) -> None:
    run = _run_dir(tmp_path, families, "transformer", "tiny")
    ours = ModelHub(families).load(run / "model")
    with torch.no_grad():  # non-zero biases and norms, so every tensor's mapping matters
        for name, param in ours.named_parameters():
            if name.endswith("bias") or "norm" in name:
                param.normal_(0, 0.5)
    save_model(ours, run / "model")
    out = tmp_path / "hf"
    assert main(["models", "export", str(run), str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "marian"
    assert config["decoder_start_token_id"] == 1  # seqkit targets start with <s>

    ours_tok = SentencePieceTokenizer.from_file(run / "tokenizer" / "spm.model")
    hf_tok = transformers.AutoTokenizer.from_pretrained(out)
    source_encoder = ours_tok.create_encoder(task="translation", mode="source")
    for text in TEXTS:
        assert hf_tok(text)["input_ids"] == source_encoder(text).tolist(), repr(text)

    hf = transformers.AutoModelForSeq2SeqLM.from_pretrained(out).eval()
    assert type(hf).__name__ == "MarianMTModel"
    batch = hf_tok(["in the beginning God created", "earth"], return_tensors="pt", padding=True)
    src = batch["input_ids"]
    tgt = torch.tensor([[1, 5, 6, 7], [1, 8, 9, 10]])
    with torch.no_grad():
        theirs = hf(input_ids=src[:1], decoder_input_ids=tgt[:1]).logits
        mine = ours(src[:1], None, tgt[:1], None)
        assert (theirs - mine).abs().max() < 1e-4
        generated = hf.generate(**batch, max_new_tokens=4, num_beams=1, do_sample=False)
    assert generated[0, 0].item() == 1

    back = ModelHub(families).load(out)
    with torch.no_grad():
        assert torch.equal(back(src[:1], None, tgt[:1], None), mine)


def test_pre_norm_transformer_is_refused_with_the_reason(
    tmp_path: Path, families: ModelFamilies, capsys: pytest.CaptureFixture[str]
) -> None:
    save_model(families.get("transformer").create_model("small"), tmp_path / "mt")
    assert main(["models", "export", str(tmp_path / "mt"), str(tmp_path / "hf")]) == 2
    err = capsys.readouterr().err
    assert "MarianMTModel" in err
    assert "norm_order='pre'" in err
    assert not (tmp_path / "hf").exists()


def test_export_without_a_tokenizer_warns(
    tmp_path: Path, families: ModelFamilies, capsys: pytest.CaptureFixture[str]
) -> None:
    save_model(families.get("llama").create_model("tiny"), tmp_path / "bare")
    assert main(["models", "export", str(tmp_path / "bare"), str(tmp_path / "hf")]) == 0
    assert "found no tokenizer" in capsys.readouterr().err
    assert (tmp_path / "hf" / "generation_config.json").is_file()
    assert not (tmp_path / "hf" / "tokenizer.json").exists()
    args = ["models", "export", str(tmp_path / "bare"), str(tmp_path / "hf2"), "--no-tokenizer"]
    assert main(args) == 0
    assert "found no tokenizer" not in capsys.readouterr().err


def test_explicit_tokenizer_and_mismatched_vocab(tmp_path: Path, families: ModelFamilies) -> None:
    spm = sentencepiece_model(tmp_path / "tok")
    model = families.get("llama").create_model("tiny")
    save_model(model, tmp_path / "bare")
    args = ["models", "export", str(tmp_path / "bare"), str(tmp_path / "hf"), "--tokenizer"]
    assert main([*args, str(spm)]) == 0
    assert (tmp_path / "hf" / "tokenizer.json").is_file()
    # A tokenizer with more ids than the model has embeddings is not the model's.
    big = families.get("llama").arch_config("tiny")
    big.vocab_size = 8
    with pytest.raises(Exception, match="not this model's tokenizer"):
        export_hf(
            families.get("llama").create_model(big),
            tmp_path / "hf3",
            families,
            tokenizer=SentencePieceTokenizer.from_file(spm),
            tokenizer_path=spm,
        )
