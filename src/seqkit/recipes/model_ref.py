"""Resolving the MODEL argument of the inference commands."""

from __future__ import annotations

from pathlib import Path

import torch

from seqkit.recipes.card import CARD_FILE_NAME


def resolve_model_ref(ref: str) -> str:
    """A run directory stands for its ``card.yaml``; anything else is passed on as is."""
    path = Path(ref)
    if path.is_dir() and (path / CARD_FILE_NAME).is_file():
        return str(path / CARD_FILE_NAME)
    return ref


def resolve_device(name: str | None) -> torch.device:
    """``--device``, or CUDA when available, else the CPU."""
    if name is not None:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
