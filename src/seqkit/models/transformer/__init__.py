"""The ``transformer`` family: encoder-decoder models for translation."""

from __future__ import annotations

from seqkit.models.family import StandardModelFamily
from seqkit.models.transformer.config import (
    TRANSFORMER_ARCHS,
    TRANSFORMER_FAMILY,
    TransformerConfig,
)
from seqkit.models.transformer.factory import create_transformer_model
from seqkit.models.transformer.interop import TransformerHuggingFaceConverter
from seqkit.models.transformer.model import TransformerFrontend, TransformerModel


def create_transformer_family() -> StandardModelFamily[TransformerConfig, TransformerModel]:
    """The ``transformer`` :class:`~seqkit.models.ModelFamily`, ready to register."""
    return StandardModelFamily(
        TRANSFORMER_FAMILY,
        TransformerConfig,
        TRANSFORMER_ARCHS,
        create_transformer_model,
        hf_converter=TransformerHuggingFaceConverter(),
    )


__all__ = [
    "TRANSFORMER_ARCHS",
    "TRANSFORMER_FAMILY",
    "TransformerConfig",
    "TransformerFrontend",
    "TransformerHuggingFaceConverter",
    "TransformerModel",
    "create_transformer_family",
    "create_transformer_model",
]
