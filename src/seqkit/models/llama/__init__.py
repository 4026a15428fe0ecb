"""The ``llama`` family: decoder-only LMs (Llama 2/3 shapes, Qwen2 with q/k/v bias)."""

from __future__ import annotations

from seqkit.models.family import StandardModelFamily
from seqkit.models.llama.config import LLAMA_ARCHS, LLAMA_FAMILY, LlamaConfig
from seqkit.models.llama.factory import create_llama_model
from seqkit.models.llama.interop import LlamaHuggingFaceConverter
from seqkit.models.llama.model import LlamaModel


def create_llama_family() -> StandardModelFamily[LlamaConfig, LlamaModel]:
    """The ``llama`` :class:`~seqkit.models.ModelFamily`, ready to register."""
    return StandardModelFamily(
        LLAMA_FAMILY,
        LlamaConfig,
        LLAMA_ARCHS,
        create_llama_model,
        hf_converter=LlamaHuggingFaceConverter(),
    )


__all__ = [
    "LLAMA_ARCHS",
    "LLAMA_FAMILY",
    "LlamaConfig",
    "LlamaHuggingFaceConverter",
    "LlamaModel",
    "create_llama_family",
    "create_llama_model",
]
