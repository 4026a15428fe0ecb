"""HF repo ids from a (fake) local hub cache: load_model, load_tokenizer, lm finetune on
chat data with the tokenizer's template, lm chat."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch

import seqkit
from seqkit.cli.main import main
from seqkit.models.hf import HubCacheError, hub_cache_dir, resolve_hf_repo
from seqkit.recipes.loss_curve import read_loss_curve
from seqkit.text import HuggingFaceTokenizer, TokenizerLoadError

from ..hf_fixtures import build_hf_tokenizer
from ..text.conftest import read_token_dataset

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.integration

REPO_ID = "TinyOrg/Tiny-Chat"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hub cache holding a random-weight HF Llama and a ChatML tokenizer (refs/main)."""
    cache = tmp_path_factory.mktemp("hf") / "hub"
    root = cache / "models--TinyOrg--Tiny-Chat"
    snapshot = root / "snapshots" / COMMIT
    build_hf_tokenizer(snapshot, "chatml")
    vocab = HuggingFaceTokenizer.from_path(snapshot).vocab_info.size
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
    )
    transformers.LlamaForCausalLM(config).save_pretrained(str(snapshot))
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(COMMIT)
    return cache


@pytest.fixture
def offline_cache(hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_HUB_CACHE", str(hub_cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return hub_cache


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", "/x/hf")
    assert hub_cache_dir() == Path("/x/hf/hub")
    monkeypatch.setenv("HF_HUB_CACHE", "/y/cache")
    assert hub_cache_dir() == Path("/y/cache")


def test_repo_id_loads_model_and_tokenizer(offline_cache: Path) -> None:
    snapshot = resolve_hf_repo(REPO_ID)
    assert snapshot == offline_cache / "models--TinyOrg--Tiny-Chat" / "snapshots" / COMMIT
    assert resolve_hf_repo(f"{REPO_ID}@{COMMIT}") == snapshot
    model = seqkit.load_model(REPO_ID)
    tokenizer = seqkit.load_tokenizer(REPO_ID)
    assert tokenizer.chat_template is not None
    hf = transformers.LlamaForCausalLM.from_pretrained(str(snapshot)).eval()
    ids = tokenizer.create_encoder()("In the beginning")[None]
    with torch.no_grad():
        ours = model(ids, None)
        theirs = hf(ids).logits
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


def test_absent_repo_names_repo_and_cache(offline_cache: Path) -> None:
    with pytest.raises(HubCacheError) as info:
        seqkit.load_model("NoSuchOrg/NoSuchModel")
    assert "NoSuchOrg/NoSuchModel" in str(info.value)
    assert str(offline_cache) in str(info.value)
    with pytest.raises(TokenizerLoadError, match="NoSuchOrg/NoSuchModel"):
        seqkit.load_tokenizer("NoSuchOrg/NoSuchModel")


def test_finetune_chat_data_from_repo_id(
    offline_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "chat.jsonl"
    records = [
        {
            "messages": [
                {"role": "user", "content": f"Say {word}."},
                {"role": "assistant", "content": f"{word} {word}."},
            ]
        }
        for word in ["light", "water", "earth", "heaven", "seed", "fruit"] * 4
    ]
    data.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    out = tmp_path / "sft"
    code = main(
        [
            "lm", "finetune", str(out), "--preset", "tiny",
            "--config", f"model.checkpoint={REPO_ID}",
            "--config", f"data.train_files=[{data}]",
            "--config", "train.max_steps=4",
            "--config", "train.log_every_n_steps=1",
            "--config", "train.progress_bar=false",
            "--config", "sample.prompts=[]",
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert read_loss_curve(out / "metrics.jsonl")
    # The rows hold the template's text, the targets only on the replies.
    tokenizer = seqkit.load_tokenizer(REPO_ID)
    tokens = read_token_dataset(out / "data" / "train" / "tokens")
    masks = read_token_dataset(out / "data" / "train" / "target_mask")
    decode = tokenizer.create_decoder(skip_special_tokens=False)
    assert decode(tokens[0]).startswith("<|im_start|>system\n")
    target = decode([t for t, m in zip(tokens[0], masks[0]) if m])
    word = target.split()[0]
    assert target == f"{word} {word}.<|im_end|>\n\n"


def test_lm_chat_streams_with_the_template(
    offline_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("Hello\nAnd again\n"))
    code = main(["lm", "chat", REPO_ID, "--temperature", "0", "--max-new-tokens", "5"])
    assert code == 0, capsys.readouterr().err


@pytest.mark.parametrize("preset", ["tiny", "default"])
def test_finetune_presets_run_two_steps_without_wrecking_the_model(
    preset: str, offline_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "chat.jsonl"
    records = [
        {"prompt": f"Repeat {w}:", "response": f" {w}"} for w in ["light", "dark", "sea"] * 8
    ]
    data.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    out = tmp_path / preset
    before = seqkit.load_model(REPO_ID)
    code = main(
        [
            "lm", "finetune", str(out), "--preset", preset,
            "--config", f"model.checkpoint={REPO_ID}",
            "--config", f"data.train_files=[{data}]",
            "--config", "train.max_steps=2",
            "--config", "train.batch_size=4",
            "--config", "train.progress_bar=false",
            "--config", "sample.prompts=[]",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    if preset == "default":
        assert "warming up for 0 steps instead" in captured.out
    after = seqkit.load_model(out / "model")
    # Two steps at a fine-tuning LR move each weight by about 2 * lr, not more.
    for (name, p0), p1 in zip(before.state_dict().items(), after.state_dict().values()):
        assert float((p1 - p0).abs().max()) < 2e-3, name
