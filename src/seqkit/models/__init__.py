"""Model families (``llama``, ``transformer``), the model hub and weight IO."""

from __future__ import annotations

from seqkit.models.create import create_model
from seqkit.models.errors import (
    CheckpointError,
    ModelConfigError,
    ModelError,
    StateDictMismatchError,
    UnknownModelArchError,
    UnknownModelFamilyError,
)
from seqkit.models.family import ModelFamilies, ModelFamily, StandardModelFamily
from seqkit.models.hf import HuggingFaceConverter
from seqkit.models.hf_export import export_hf
from seqkit.models.hub import ModelHub
from seqkit.models.loader import load_weights
from seqkit.models.save import save_model
from seqkit.models.weights import save_safetensors

__all__ = [
    "CheckpointError",
    "HuggingFaceConverter",
    "ModelConfigError",
    "ModelError",
    "ModelFamilies",
    "ModelFamily",
    "ModelHub",
    "StandardModelFamily",
    "StateDictMismatchError",
    "UnknownModelArchError",
    "UnknownModelFamilyError",
    "create_model",
    "export_hf",
    "load_weights",
    "save_model",
    "save_safetensors",
]
