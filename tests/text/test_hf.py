from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seqkit.text import EncodingModeError, HuggingFaceTokenizer, TokenizerLoadError

from .conftest import bible_lines

tokenizers = pytest.importorskip("tokenizers")

TEXTS = bible_lines("web.en", 40, start=500)


def _build(directory: Path, *, with_config: bool) -> Path:
    """Train a small BPE tokenizer.json with the ``tokenizers`` library (as HF repos ship)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=500,
        special_tokens=["[UNK]", "<|bos|>", "<|eos|>", "[PAD]", "__en__"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(bible_lines("web.en", 300), trainer=trainer)
    directory.mkdir(parents=True, exist_ok=True)
    tok.save(str(directory / "tokenizer.json"))
    if with_config:
        config = {"bos_token": "<|bos|>", "eos_token": {"content": "<|eos|>"}, "pad_token": "[PAD]"}
        (directory / "tokenizer_config.json").write_text(json.dumps(config))
    return directory


def test_hf_directory_loads_with_its_special_tokens(tmp_path: Path) -> None:
    tokenizer = HuggingFaceTokenizer.from_path(_build(tmp_path / "model", with_config=True))
    info = tokenizer.vocab_info
    assert info.size == 500
    assert (info.unk_idx, info.bos_idx, info.eos_idx, info.pad_idx) == (0, 1, 2, 3)
    # No post-processor in this tokenizer.json: BOS and EOS only when asked for.
    assert tokenizer.create_encoder()("light")[0].item() != 1
    encoder = tokenizer.create_encoder(add_bos=True, add_eos=True)
    decoder = tokenizer.create_decoder()
    for text, ids in zip(TEXTS, encoder.encode_batch(TEXTS)):
        assert ids[0].item() == 1
        assert ids[-1].item() == 2
        assert torch.equal(ids, encoder(text))
        assert decoder(ids) == text
    source = tokenizer.create_encoder(mode="source", lang="en")("light")
    assert source[0].item() == tokenizer.token_to_index("__en__")
    assert decoder(source) == "light"


def test_hf_without_config_uses_no_guessed_bos(tmp_path: Path) -> None:
    tokenizer = HuggingFaceTokenizer.from_path(
        _build(tmp_path / "bare", with_config=False) / "tokenizer.json"
    )
    assert tokenizer.vocab_info.unk_idx == 0
    assert tokenizer.vocab_info.pad_idx == 3
    # '<|bos|>' is not a conventional spelling, so no BOS can be added.
    assert tokenizer.vocab_info.bos_idx is None
    assert tokenizer.create_encoder()("light").tolist() == tokenizer.create_encoder(
        add_bos=False
    ).encode_ids("light")
    with pytest.raises(EncodingModeError, match="add_bos=True"):
        tokenizer.create_encoder(add_bos=True)
    with pytest.raises(EncodingModeError, match="needs </s>"):
        tokenizer.create_encoder(mode="source")


def test_hf_invalid_file(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(TokenizerLoadError, match=r"tokenizer\.json"):
        HuggingFaceTokenizer.from_path(tmp_path)
