"""Tokenizers for export tests, built offline: a SentencePiece model and an HF tokenizer."""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch

from seqkit.text import train_sentencepiece

WORDS = [
    "in",
    "the",
    "beginning",
    "God",
    "created",
    "heaven",
    "and",
    "earth",
    "délta",
    "中文",
    "light",
    "darkness",
    "waters",
    "spirit",
    "face",
    "deep",
    "said",
    "let",
    "there",
    "be",
    "was",
    "good",
    "day",
    "night",
    "evening",
    "morning",
    "firmament",
]
TEXTS = [
    "in the beginning God created",
    "  two  spaces ",
    " leading and trailing ",
    "délta 中文 earth",
    "unseen Words X",
    "a\nb",
]


def corpus(directory: Path, lines: int = 3000) -> Path:
    rng = random.Random(0)
    path = directory / "corpus.txt"
    directory.mkdir(parents=True, exist_ok=True)
    text = "\n".join(" ".join(rng.choice(WORDS) for _ in range(10)) for _ in range(lines))
    path.write_text(text + "\n", encoding="utf-8")
    return path


def sentencepiece_model(directory: Path, model_type: str = "unigram") -> Path:
    """A small SentencePiece model (ids: <unk>=0, <s>=1, </s>=2, <pad>=3, __de__, __en__)."""
    trained = train_sentencepiece(
        [corpus(directory.parent / f"{directory.name}_corpus")],
        output_dir=directory,
        vocab_size=40,
        model_type=model_type,  # type: ignore[arg-type]
        name="spm",
        langs=["de", "en"],
    )
    return trained.model_path


def hf_tokenizer(directory: Path) -> Path:
    """A BPE ``tokenizer.json`` (+ ``tokenizer_config.json``) that adds ``<s>`` in front."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train([str(corpus(directory.parent / f"{directory.name}_corpus"))], trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B:1", special_tokens=[("<s>", 1)]
    )
    directory.mkdir(parents=True, exist_ok=True)
    tok.save(str(directory / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "chat_template": "{% for m in messages %}{{ m['content'] }}\n{% endfor %}",
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    (directory / "special_tokens_map.json").write_text(
        json.dumps({k: v for k, v in config.items() if k.endswith("_token")}), encoding="utf-8"
    )
    return directory


def hf_llama_folder(directory: Path, vocab_size: int = 300) -> Path:
    """A random-weight ``LlamaForCausalLM`` folder with :func:`hf_tokenizer` beside it."""
    import transformers

    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
    )
    transformers.LlamaForCausalLM(config).save_pretrained(directory)
    hf_tokenizer(directory)
    return directory
