"""``ModelHub``: load a model from a card, a card file, a seqkit or HF directory, or a file."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import final

import torch
from torch.nn import Module

from seqkit.assets import AssetCard, AssetDownloadManager, AssetStore
from seqkit.config.safe_yaml import load_yaml
from seqkit.models.errors import CheckpointError, ModelConfigError
from seqkit.models.family import ModelFamilies, ModelFamily
from seqkit.models.hf import looks_like_repo_id, resolve_hf_repo
from seqkit.models.loader import KeyMap, load_weights
from seqkit.models.save import MODEL_FORMAT

_HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_RUN_CARD = "card.yaml"  # a training run's card (seqkit.recipes.card.CARD_FILE_NAME)


@dataclass(frozen=True, kw_only=True)
class _Source:
    """Where weights come from and how the model they fit is configured."""

    family: ModelFamily
    config: object
    files: list[Path]
    key_map: KeyMap | None = None


@final
class ModelHub:
    """Loads models by card name or path; see :meth:`load`."""

    def __init__(
        self,
        families: ModelFamilies,
        card_store: AssetStore | None = None,
        download_manager: AssetDownloadManager | None = None,
    ) -> None:
        self._families = families
        self._card_store = card_store
        self._download_manager = download_manager

    def create(
        self,
        family: str,
        arch_or_config: str | object,
        *,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> Module:
        """A randomly initialized model of ``family`` with an arch name or a config."""
        return self._families.get(family).create_model(arch_or_config, device=device, dtype=dtype)

    def load(
        self,
        name_or_path: str | Path,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> Module:
        """Load a pretrained model, in eval mode, on ``device`` (default CPU) in ``dtype``.

        ``name_or_path`` is an asset card name, a card ``.yaml`` file, a directory written
        by :func:`~seqkit.models.save_model`, a Hugging Face directory (``config.json`` +
        safetensors, possibly sharded with ``model.safetensors.index.json``), a Hugging Face
        repo id ``ORG/NAME[@REVISION]`` (from the local hub cache, see
        :func:`~seqkit.models.hf.resolve_hf_repo`), or a single weights file with a
        ``model.yaml`` or ``config.json`` beside it. ``dtype=None``
        keeps the checkpoint's dtype.
        """
        source = self._resolve(name_or_path)
        model = source.family.create_model(source.config, device=torch.device("meta"))
        load_weights(
            model,
            source.files,
            key_map=source.key_map,
            device=torch.device(device) if device is not None else None,
            dtype=dtype,
        )
        return model.eval()

    def _resolve(self, name_or_path: str | Path) -> _Source:
        path = Path(name_or_path).expanduser()
        if path.is_dir():
            return self._from_directory(path)
        if path.is_file():
            if path.suffix in (".yaml", ".yml") and path.name != "model.yaml":
                return self._from_card(self._cards().retrieve_card(str(path)))
            return self._from_file(path)
        if looks_like_repo_id(name_or_path):
            return self._from_directory(resolve_hf_repo(str(name_or_path)))
        if isinstance(name_or_path, Path) or "/" in str(name_or_path):
            raise CheckpointError(path, "no such file or directory")
        return self._from_card(self._cards().retrieve_card(str(name_or_path)))

    def _cards(self) -> AssetStore:
        if self._card_store is None:
            raise ModelConfigError(
                "This ModelHub has no asset store, so it can only load paths; build it "
                "through seqkit.setup() to load models by card name."
            )
        return self._card_store

    def _from_card(self, card: AssetCard) -> _Source:
        family = self._families.get(card.field("model_family").as_str())
        if self._download_manager is None:
            raise ModelConfigError(f"Cannot resolve card '{card.name}': no download manager.")
        checkpoint = self._download_manager.resolve_path(card, "checkpoint")
        arch_field = card.field("model_arch")
        config_field = card.field("model_config")
        base: object | None = None
        if arch_field.exists():
            base = family.arch_config(arch_field.as_str())
        if checkpoint.is_dir():
            source = self._from_directory(checkpoint, family=family, base=base)
        else:
            source = self._from_file(checkpoint, family=family, base=base)
        if config_field.exists():
            config = family.structure_config(config_field.as_dict(), base=source.config)
            source = _Source(
                family=family, config=config, files=source.files, key_map=source.key_map
            )
        return source

    def _from_directory(
        self, directory: Path, *, family: ModelFamily | None = None, base: object | None = None
    ) -> _Source:
        if (directory / "model.yaml").is_file():
            return self._from_seqkit_dir(directory, family=family, base=base)
        if (directory / "config.json").is_file():
            return self._from_hf_dir(directory, family=family, base=base)
        if family is None and (directory / _RUN_CARD).is_file():
            # A training run's output directory stands for its card, as on the CLI.
            return self._from_card(self._cards().retrieve_card(str(directory / _RUN_CARD)))
        raise CheckpointError(
            directory,
            "the directory has neither model.yaml (written by seqkit save_model), "
            "config.json (Hugging Face layout) nor card.yaml (a training run)",
        )

    def _from_file(
        self, path: Path, *, family: ModelFamily | None = None, base: object | None = None
    ) -> _Source:
        if family is not None and base is not None:
            return _Source(family=family, config=base, files=[path])
        directory = path.parent
        if (directory / "model.yaml").is_file():
            return self._from_seqkit_dir(directory, family=family, base=base, files=[path])
        if (directory / "config.json").is_file():
            return self._from_hf_dir(directory, family=family, base=base, files=[path])
        raise CheckpointError(
            path,
            "a weights file alone does not say which model it fits; put a model.yaml or "
            "config.json beside it, or load it through a card with model_family/model_arch",
        )

    def _from_seqkit_dir(
        self,
        directory: Path,
        *,
        family: ModelFamily | None,
        base: object | None,
        files: list[Path] | None = None,
    ) -> _Source:
        document = load_yaml(directory / "model.yaml").data
        if not isinstance(document, Mapping) or document.get("format") != MODEL_FORMAT:
            raise CheckpointError(
                directory / "model.yaml", f"it is not a '{MODEL_FORMAT}' model description"
            )
        saved_family = self._families.get(str(document.get("model_family")))
        if family is not None and family.name != saved_family.name:
            raise ModelConfigError(
                f"The card says model_family '{family.name}' but {directory}/model.yaml "
                f"holds a '{saved_family.name}' model; fix the card."
            )
        raw = document.get("model_config") or {}
        if not isinstance(raw, Mapping):
            raise CheckpointError(directory / "model.yaml", "model_config is not a mapping")
        config = base if base is not None else saved_family.structure_config(raw)
        files = files if files is not None else _weight_files(directory, "model")
        return _Source(family=saved_family, config=config, files=files)

    def _from_hf_dir(
        self,
        directory: Path,
        *,
        family: ModelFamily | None,
        base: object | None,
        files: list[Path] | None = None,
    ) -> _Source:
        config_path = directory / "config.json"
        try:
            hf_config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as ex:
            raise CheckpointError(config_path, f"cannot read it as JSON ({ex})") from ex
        model_type = str(hf_config.get("model_type"))
        if family is None:
            family = self._families.for_hf_model_type(model_type)
            if family is None:
                raise ModelConfigError(
                    f"No registered model family reads Hugging Face model_type "
                    f"'{model_type}' ({config_path})."
                )
        converter = family.hf_converter
        if converter is None:
            raise ModelConfigError(
                f"Model family '{family.name}' cannot read Hugging Face checkpoints ({directory})."
            )
        config = base if base is not None else converter.config_from_hf(hf_config)
        if files is None:
            files = _weight_files(directory, "model", hf=True)
        return _Source(family=family, config=config, files=files, key_map=converter.key_from_hf)


def _weight_files(directory: Path, stem: str, *, hf: bool = False) -> list[Path]:
    """The weight files of a directory: one file, or the shards of an index."""
    names = [f"{stem}.safetensors"] + (list(_HF_WEIGHTS) if hf else [])
    for name in names:
        index = directory / f"{name}.index.json"
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (OSError, json.JSONDecodeError, KeyError, TypeError) as ex:
                raise CheckpointError(index, f"not a valid shard index ({ex})") from ex
            shards = sorted(set(weight_map.values()))
            missing = [s for s in shards if not (directory / s).is_file()]
            if missing:
                raise CheckpointError(index, f"shards missing from the directory: {missing}")
            return [directory / s for s in shards]
        if (directory / name).is_file():
            return [directory / name]
    raise CheckpointError(directory, f"no weights found (looked for {', '.join(names)})")
