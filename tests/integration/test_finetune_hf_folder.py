"""Fine-tuning from a Hugging Face folder leaves a run directory with a working card and
tokenizer: ``seqkit lm generate OUT/card.yaml``, ``load_model(OUT)`` and
``load_tokenizer(OUT)`` all work, and the run exports back to HF with its tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

import seqkit
from seqkit.cli.main import main
from seqkit.text import HuggingFaceTokenizer
from tests.models.hf_fixtures import TEXTS, hf_llama_folder

pytestmark = pytest.mark.integration
transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")


def test_finetune_from_hf_folder_writes_card_and_tokenizer(
    tmp_path: Path, instructions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = hf_llama_folder(tmp_path / "hf_llama")
    out = tmp_path / "sft"
    code = main(
        [
            "lm", "finetune", str(out), "--preset", "tiny",
            "--config", f"model.checkpoint={folder}",
            "--config", f"data.train_files=[{instructions}]",
            "--config", "train.max_steps=2",
            "--config", "train.progress_bar=false",
            "--config", "sample.prompts=[]",
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert f"seqkit lm generate {out / 'card.yaml'}" in printed

    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        assert (out / "tokenizer" / name).read_bytes() == (folder / name).read_bytes(), name
    card = yaml.safe_load((out / "card.yaml").read_text())
    assert card["tokenizer"] == "tokenizer"
    assert card["tokenizer_family"] == "huggingface"
    assert card["checkpoint"] == "model"

    # The command the closing message suggests works.
    assert main(["lm", "generate", str(out / "card.yaml"), "in the", "--max-new-tokens", "3",
                 "--seed", "0", "--device", "cpu"]) == 0  # fmt: skip
    assert capsys.readouterr().out.startswith("in the")

    # The notebook API takes the run directory as the CLI does.
    model = seqkit.load_model(out)
    tokenizer = seqkit.load_tokenizer(out)
    assert isinstance(tokenizer, HuggingFaceTokenizer)
    source = HuggingFaceTokenizer.from_path(folder)
    assert tokenizer.vocab_info == source.vocab_info
    encoder, reference = tokenizer.create_encoder(), source.create_encoder()
    for text in TEXTS:
        assert encoder(text).tolist() == reference(text).tolist()
    with torch.no_grad():
        logits = model(torch.tensor([encoder("in the beginning").tolist()]))
    assert logits.shape[-1] == 300

    # ... and exports back to the HF layout with the same tokenizer files.
    assert main(["models", "export", str(out), str(tmp_path / "hf_out")]) == 0
    exported = tmp_path / "hf_out"
    assert (exported / "tokenizer.json").read_bytes() == (folder / "tokenizer.json").read_bytes()
    config = json.loads((exported / "config.json").read_text())
    assert (config["bos_token_id"], config["eos_token_id"], config["pad_token_id"]) == (1, 2, 3)
    hf_tok = transformers.AutoTokenizer.from_pretrained(exported)
    assert (
        hf_tok("in the beginning")["input_ids"]
        == tokenizer.create_encoder(mode="prompt")("in the beginning").tolist()
    )
