"""What a model family is, and the lookup of the registered families."""

from __future__ import annotations

import dataclasses
import difflib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Generic, TypeVar, final

import torch
from torch.nn import Module
from typing_extensions import override

from seqkit.config.structure import structure, unstructure
from seqkit.errors import SeqkitError
from seqkit.models.errors import ModelConfigError, UnknownModelArchError, UnknownModelFamilyError
from seqkit.models.hf import HuggingFaceConverter

ConfigT = TypeVar("ConfigT")
ModelT = TypeVar("ModelT", bound=Module)


class ModelFamily(ABC):
    """A kind of model: its config class, named archs, factory and HF converter.

    Register one per family, keyed by :attr:`name`, as ``ModelFamily`` in the container.
    """

    @property
    @abstractmethod
    def name(self) -> str:
        """The family name used by cards and ``model.yaml`` (``"llama"``)."""

    @property
    @abstractmethod
    def config_kls(self) -> type[object]:
        """The config dataclass of the family."""

    @abstractmethod
    def arch_names(self) -> list[str]:
        """The names of the predefined architectures."""

    @abstractmethod
    def arch_config(self, arch: str) -> object:
        """A fresh config of ``arch``; raise :class:`UnknownModelArchError` if unknown."""

    @abstractmethod
    def create_model(
        self,
        config: object,
        *,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> Module:
        """Build a randomly initialized model of ``config``."""

    @property
    @abstractmethod
    def hf_converter(self) -> HuggingFaceConverter | None:
        """The converter from/to the Hugging Face layout, or ``None``."""

    def structure_config(self, data: Mapping[str, object], *, base: object | None = None) -> object:
        """``base`` (or the config defaults) updated with ``data``, validated.

        Nested dataclass fields are merged key by key; unknown keys fail with a hint.
        """
        merged: dict[str, object] = {}
        if base is not None:
            raw = unstructure(base)
            assert isinstance(raw, dict)
            merged = raw
        _deep_update(merged, dict(data))
        try:
            return structure(merged, self.config_kls)
        except SeqkitError:
            raise
        except (TypeError, ValueError) as ex:
            raise ModelConfigError(f"Invalid '{self.name}' model config: {ex}") from ex

    def resolve_config(self, arch_or_config: str | object) -> object:
        """The config named by ``arch_or_config`` (an arch name) or the config itself."""
        if isinstance(arch_or_config, str):
            return self.arch_config(arch_or_config)
        if not isinstance(arch_or_config, self.config_kls):
            raise ModelConfigError(
                f"Model family '{self.name}' takes a {self.config_kls.__name__} or an arch "
                f"name, got a {type(arch_or_config).__name__}."
            )
        return arch_or_config


@final
class StandardModelFamily(ModelFamily, Generic[ConfigT, ModelT]):
    """A :class:`ModelFamily` made of a config class, an arch table and a factory."""

    def __init__(
        self,
        name: str,
        config_kls: type[ConfigT],
        archs: Mapping[str, Callable[[], ConfigT]],
        factory: Callable[..., ModelT],
        *,
        hf_converter: HuggingFaceConverter | None = None,
    ) -> None:
        self._name = name
        self._config_kls = config_kls
        self._archs = archs
        self._factory = factory
        self._hf_converter = hf_converter

    @property
    @override
    def name(self) -> str:
        return self._name

    @property
    @override
    def config_kls(self) -> type[object]:
        return self._config_kls

    @override
    def arch_names(self) -> list[str]:
        return list(self._archs)

    @override
    def arch_config(self, arch: str) -> object:
        make = self._archs.get(arch)
        if make is None:
            close = difflib.get_close_matches(arch, list(self._archs), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UnknownModelArchError(self._name, arch, list(self._archs), hint)
        return make()

    @override
    def create_model(
        self,
        config: object,
        *,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> Module:
        config = self.resolve_config(config)
        return self._factory(config, device=device, dtype=dtype)

    @property
    @override
    def hf_converter(self) -> HuggingFaceConverter | None:
        return self._hf_converter


@final
class ModelFamilies:
    """The registered families, looked up by name (built from keyed registrations)."""

    def __init__(self, families: Iterable[ModelFamily]) -> None:
        self._families = {family.name: family for family in families}

    def get(self, name: str) -> ModelFamily:
        """The family called ``name``; raise :class:`UnknownModelFamilyError` with a hint."""
        family = self._families.get(name)
        if family is None:
            close = difflib.get_close_matches(name, list(self._families), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UnknownModelFamilyError(name, list(self._families), hint)
        return family

    def names(self) -> list[str]:
        """The names of all families, in registration order."""
        return list(self._families)

    def for_hf_model_type(self, model_type: str) -> ModelFamily | None:
        """The family whose HF converter reads Hugging Face ``model_type``, if any."""
        for family in self._families.values():
            converter = family.hf_converter
            if converter is not None and model_type in converter.model_types:
                return family
        return None


def _deep_update(target: dict[str, object], updates: Mapping[str, object]) -> None:
    for key, value in updates.items():
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            _deep_update(current, value)
        else:
            target[key] = value


def config_to_dict(config: object) -> dict[str, object]:
    """A plain-data copy of a config dataclass, for YAML."""
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"{type(config).__name__} is not a config dataclass")
    raw = unstructure(config)
    assert isinstance(raw, dict)
    return raw
