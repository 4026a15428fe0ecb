from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seqkit.cli.main import main
from seqkit.models import ModelFamilies, ModelHub, save_model


def test_models_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "llama: tiny" in out
    assert "transformer: tiny" in out
    assert main(["models", "show", "llama", "llama3_8b"]) == 0
    out = capsys.readouterr().out
    assert "model_dim: 4096" in out
    assert "# parameters: 8,030,261,248" in out
    assert main(["models", "show", "llama", "nope"]) == 2
    assert "has no architecture 'nope'" in capsys.readouterr().err


def test_models_export_hf_and_back(tmp_path: Path, families: ModelFamilies) -> None:
    model = families.get("llama").create_model("tiny").eval()
    save_model(model, tmp_path / "seqkit")
    assert main(["models", "export", str(tmp_path / "seqkit"), str(tmp_path / "hf")]) == 0
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["model_type"] == "llama"
    assert config["architectures"] == ["LlamaForCausalLM"]
    # HF layout back into seqkit: the same logits.
    reloaded = ModelHub(families).load(tmp_path / "hf")
    seqs = torch.randint(0, 512, (2, 5))
    with torch.no_grad():
        torch.testing.assert_close(reloaded(seqs), model(seqs))


def test_export_refuses_a_model_without_hf_form(
    tmp_path: Path, families: ModelFamilies, capsys: pytest.CaptureFixture[str]
) -> None:
    # The pre-norm "small" transformer has no exact HF (Marian) counterpart.
    save_model(families.get("transformer").create_model("small"), tmp_path / "mt")
    assert main(["models", "export", str(tmp_path / "mt"), str(tmp_path / "hf")]) == 2
    assert "has no exact Hugging Face form" in capsys.readouterr().err
