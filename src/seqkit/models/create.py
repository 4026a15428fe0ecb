"""``create_model``: a randomly initialized model by family and arch (or config)."""

from __future__ import annotations

import torch
from torch.nn import Module

from seqkit.models.family import ModelFamilies


def create_model(
    family: str,
    arch_or_config: str | object,
    *,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
    families: ModelFamilies,
) -> Module:
    """Build ``family``'s model from an arch name (``"tiny"``) or a config dataclass.

    ``families`` are the registered families (resolve ``ModelFamilies`` from the
    container, or use :func:`seqkit.create_model`, which does).
    """
    return families.get(family).create_model(arch_or_config, device=device, dtype=dtype)
