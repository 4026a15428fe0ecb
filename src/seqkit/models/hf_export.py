"""Write a seqkit model in the Hugging Face layout (``config.json`` + safetensors)."""

from __future__ import annotations

import json
from pathlib import Path

from torch.nn import Module

from seqkit.models.errors import ModelError
from seqkit.models.family import ModelFamilies
from seqkit.models.save import unique_state_dict
from seqkit.models.weights import remove_checksums, save_safetensors, write_checksums


def export_hf(model: Module, directory: str | Path, families: ModelFamilies) -> Path:
    """Write ``model`` to ``directory`` so ``transformers`` ``from_pretrained`` reads it.

    Tied output projections are left out, as Hugging Face does with
    ``tie_word_embeddings``. ``checksums.sha256`` records the weights' sha256, which
    :class:`~seqkit.models.ModelHub` verifies on load.
    """
    family_name = getattr(model, "family", None)
    config = getattr(model, "config", None)
    if not isinstance(family_name, str) or config is None:
        raise ModelError(f"{type(model).__name__} is not a seqkit model (no .family/.config)")
    converter = families.get(family_name).hf_converter
    if converter is None:
        raise ModelError(f"Model family '{family_name}' has no Hugging Face converter.")
    hf_config = converter.config_to_hf(config)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = [(converter.key_to_hf(key), t) for key, t in unique_state_dict(model)]
    remove_checksums(directory)
    digest = save_safetensors(tensors, directory / "model.safetensors", metadata={"format": "pt"})
    (directory / "config.json").write_text(json.dumps(hf_config, indent=2) + "\n")
    write_checksums(directory, {"model.safetensors": digest})
    return directory
