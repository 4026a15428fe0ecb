"""The asset card a recipe writes next to its trained model, so it loads by path or name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

CARD_FILE_NAME = "card.yaml"
"""The card of a run's final model, in its output directory."""


@dataclass(frozen=True, kw_only=True)
class ModelCardInfo:
    """What goes into a run's card."""

    name: str
    """The card name (``seqkit.load_model(name)`` once the card is in an asset dir)."""

    family: str
    """The model family."""

    model_dir: Path
    """The directory ``save_model`` wrote (``model.safetensors`` + ``model.yaml``)."""

    tokenizer: Path
    """The tokenizer: a model file, or a Hugging Face tokenizer directory."""

    tokenizer_family: str
    """How to load the tokenizer (``sentencepiece``, ``huggingface``)."""

    task: str
    """``lm`` or ``translation``; informational."""

    extra: dict[str, object] | None = None
    """More metadata fields (languages, training steps...)."""


def write_card(info: ModelCardInfo, output_dir: Path) -> Path:
    """Write ``OUTPUT_DIR/card.yaml``; paths are relative so the directory can move."""
    card: dict[str, object] = {
        "name": info.name,
        "model_family": info.family,
        "checkpoint": _relative(info.model_dir, output_dir),
        "tokenizer": _relative(info.tokenizer, output_dir),
        "tokenizer_family": info.tokenizer_family,
        "task": info.task,
    }
    if info.extra:
        card.update(info.extra)
    path = output_dir / CARD_FILE_NAME
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(
        "# Written by seqkit; load with seqkit.load_model(<this file>).\n"
        + yaml.safe_dump(card, sort_keys=False),
        encoding="utf-8",
    )
    tmp.replace(path)
    return path


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path.resolve())
