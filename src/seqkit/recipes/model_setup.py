"""Building the model of a run: from a family config, or loaded from a checkpoint/card."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from seqkit.models import ModelFamilies, ModelHub
from seqkit.recipes.errors import RecipeError
from seqkit.recipes.sections import ModelSection


def build_model(
    section: ModelSection,
    *,
    families: ModelFamilies,
    hub: ModelHub,
    device: torch.device,
    forced: Mapping[str, object],
) -> nn.Module:
    """A fresh model of ``section.family``/``arch`` with ``section.config`` applied, or the
    model of ``section.checkpoint``.

    ``forced`` are config fields the data dictates (vocabulary size, padding index); for a
    loaded model they are checked instead, since its weights fix them.
    """
    if section.checkpoint is not None:
        model = hub.load(section.checkpoint, device=device)
        config = getattr(model, "config", None)
        for key, value in forced.items():
            actual = getattr(config, key, value)
            if key == "vocab_size" and actual != value:
                raise RecipeError(
                    f"The model of {section.checkpoint} has vocab_size {actual} but the "
                    f"tokenizer has {value} tokens; use the tokenizer of that model."
                )
        return model
    family = families.get(section.family)
    base = family.arch_config(section.arch) if section.arch is not None else None
    data = {**section.config, **forced}
    config = family.structure_config(data, base=base)
    return family.create_model(config, device=device)


def num_parameters(model: nn.Module) -> int:
    """Number of distinct parameters (tied weights counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
