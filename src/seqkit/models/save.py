"""``save_model``: a directory with ``model.safetensors`` and ``model.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import yaml
from torch import Tensor
from torch.nn import Module

from seqkit.models.errors import ModelError
from seqkit.models.family import config_to_dict
from seqkit.models.weights import remove_checksums, save_safetensors, write_checksums
from seqkit.nn.lora import merged_state_dict

MODEL_FORMAT: Final = "seqkit.model"
MODEL_FORMAT_VERSION: Final = 1


def save_model(model: Module, directory: str | Path) -> Path:
    """Write ``model``'s weights and config to ``directory``; return the directory.

    ``model.yaml`` holds ``format``, ``version``, ``model_family`` and ``model_config``;
    :meth:`seqkit.models.ModelHub.load` reads the directory back. Tied tensors are
    written once (under their first name). ``checksums.sha256`` records the weights'
    sha256, which loading verifies. LoRA adapters (:mod:`seqkit.nn.lora`) are merged into
    their base weights, so the directory holds a plain model.
    """
    family = getattr(model, "family", None)
    config = getattr(model, "config", None)
    if not isinstance(family, str) or config is None:
        raise ModelError(
            f"save_model() needs a seqkit model with `.family` and `.config`; got "
            f"{type(model).__name__}. Unwrap DDP/FSDP wrappers (`.module`) first."
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    remove_checksums(directory)
    digest = save_safetensors(unique_state_dict(model), directory / "model.safetensors")
    document = {
        "format": MODEL_FORMAT,
        "version": MODEL_FORMAT_VERSION,
        "model_family": family,
        "model_config": config_to_dict(config),
    }
    tmp = directory / ".model.yaml.tmp"
    tmp.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    tmp.replace(directory / "model.yaml")
    write_checksums(directory, {"model.safetensors": digest})
    return directory


def unique_state_dict(model: Module) -> list[tuple[str, Tensor]]:
    """The state dict with tied tensors kept once, under their first name, and LoRA
    adapters merged into their base weights (a plain model's keys and values)."""
    seen: set[tuple[int, int, tuple[int, ...]]] = set()
    items: list[tuple[str, Tensor]] = []
    for name, tensor in merged_state_dict(model).items():
        ident = (
            tensor.untyped_storage().data_ptr(),
            int(tensor.storage_offset()),
            tuple(tensor.shape),
        )
        if ident in seen:
            continue
        seen.add(ident)
        items.append((name, tensor))
    return items
