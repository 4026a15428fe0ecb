"""Write a seqkit model in the Hugging Face layout: ``config.json``, safetensors,
``generation_config.json`` and, given one, the tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

from torch.nn import Module

from seqkit.models.errors import ModelError
from seqkit.models.family import ModelFamilies
from seqkit.models.hf_tokenizer import write_hf_tokenizer
from seqkit.models.save import unique_state_dict
from seqkit.models.weights import remove_checksums, save_safetensors, write_checksums
from seqkit.text import TextTokenizer


def export_hf(
    model: Module,
    directory: str | Path,
    families: ModelFamilies,
    *,
    tokenizer: TextTokenizer | None = None,
    tokenizer_path: Path | None = None,
) -> Path:
    """Write ``model`` to ``directory`` so ``transformers`` ``from_pretrained`` reads it.

    With ``tokenizer`` (loaded from ``tokenizer_path``) the directory also gets the
    tokenizer files ``AutoTokenizer.from_pretrained`` reads (see
    :mod:`seqkit.models.hf_tokenizer`), and its BOS/EOS/PAD ids go into ``config.json``
    and ``generation_config.json``, so ``generate`` stops at EOS. Tied output projections
    are left out, as Hugging Face does with ``tie_word_embeddings``. ``checksums.sha256``
    records the weights' sha256, which :class:`~seqkit.models.ModelHub` verifies on load.
    """
    family_name = getattr(model, "family", None)
    config = getattr(model, "config", None)
    if not isinstance(family_name, str) or config is None:
        raise ModelError(f"{type(model).__name__} is not a seqkit model (no .family/.config)")
    converter = families.get(family_name).hf_converter
    if converter is None:
        raise ModelError(f"Model family '{family_name}' has no Hugging Face converter.")
    hf_config = converter.config_to_hf(config)  # raises ModelConfigError when unsupported
    seq2seq = bool(hf_config.get("is_encoder_decoder"))
    vocab_size = hf_config.get("vocab_size")
    if tokenizer is not None:
        vocab = tokenizer.vocab_info
        if isinstance(vocab_size, int) and vocab.size > vocab_size:
            raise ModelError(
                f"The tokenizer has {vocab.size} ids but the model only {vocab_size} "
                "embeddings; it is not this model's tokenizer."
            )
        ids = {"bos_token_id": vocab.bos_idx, "eos_token_id": vocab.eos_idx}
        ids["pad_token_id"] = vocab.pad_idx if vocab.pad_idx is not None else None
        for key, value in ids.items():
            if value is not None:
                hf_config[key] = value
        if seq2seq and vocab.bos_idx is not None:
            # seqkit's target side starts with <s> (see seqkit.text.modes).
            hf_config["decoder_start_token_id"] = vocab.bos_idx
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = [(converter.key_to_hf(key), t) for key, t in unique_state_dict(model)]
    remove_checksums(directory)
    digest = save_safetensors(tensors, directory / "model.safetensors", metadata={"format": "pt"})
    _write_json(directory / "config.json", hf_config)
    _write_json(directory / "generation_config.json", _generation_config(hf_config))
    if tokenizer is not None:
        max_length = hf_config.get("max_position_embeddings", 1_000_000)
        write_hf_tokenizer(
            tokenizer,
            tokenizer_path,
            directory,
            mode="source" if seq2seq else "prompt",
            max_length=int(str(max_length)),
        )
    write_checksums(directory, {"model.safetensors": digest})
    return directory


def _generation_config(hf_config: dict[str, object]) -> dict[str, object]:
    keys = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id")
    out: dict[str, object] = {k: hf_config[k] for k in keys if hf_config.get(k) is not None}
    if hf_config.get("is_encoder_decoder") and "eos_token_id" in out:
        out["forced_eos_token_id"] = out["eos_token_id"]
    return out


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
