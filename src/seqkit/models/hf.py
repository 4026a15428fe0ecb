"""The contract of a converter between a family's layout and Hugging Face's. Repo ids
(``ORG/NAME``) resolve from the local hub cache in :mod:`seqkit.assets.hf_cache`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from seqkit.assets.hf_cache import (
    HubCacheError as HubCacheError,
)
from seqkit.assets.hf_cache import (
    hub_cache_dir as hub_cache_dir,
)
from seqkit.assets.hf_cache import (
    looks_like_repo_id as looks_like_repo_id,
)
from seqkit.assets.hf_cache import (
    resolve_hf_repo as resolve_hf_repo,
)


class HuggingFaceConverter(ABC):
    """Converts configs (``config.json``) and state-dict keys between HF and seqkit.

    Converters only rename keys: seqkit's layouts are chosen so that HF tensors load
    as they are (e.g. RoPE in HF's "rotate half" order), which keeps loading zero-copy.
    """

    @property
    @abstractmethod
    def model_types(self) -> tuple[str, ...]:
        """The HF ``model_type`` values this converter reads (``("llama", "qwen2")``)."""

    @abstractmethod
    def config_from_hf(self, hf_config: Mapping[str, object]) -> object:
        """The seqkit config of an HF ``config.json``; raise ModelConfigError if unsupported."""

    @abstractmethod
    def config_to_hf(self, config: object) -> dict[str, object]:
        """The HF ``config.json`` content of a seqkit config."""

    @abstractmethod
    def key_from_hf(self, key: str) -> str | None:
        """The seqkit key of HF key ``key``; ``None`` for HF tensors seqkit does not keep."""

    @abstractmethod
    def key_to_hf(self, key: str) -> str:
        """The HF key of seqkit key ``key``."""
