"""The tokenizer of a training run: loaded by name, or trained on the run's text once."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from seqkit.models.hf_tokenizer import copy_hf_tokenizer_files
from seqkit.recipes.errors import RecipeError
from seqkit.recipes.run_context import RunContext
from seqkit.recipes.sections import TokenizerSection
from seqkit.text import (
    HF_FAMILY,
    SENTENCEPIECE_FAMILY,
    TextTokenizer,
    TokenizerHub,
    TokenizerSource,
    train_sentencepiece,
)

TOKENIZER_DIR = "tokenizer"
"""Where a run keeps (a copy of) its tokenizer, inside the output directory."""


@dataclass(frozen=True, kw_only=True)
class RunTokenizer:
    """The tokenizer of a run and the file it was loaded from."""

    tokenizer: TextTokenizer
    """The loaded tokenizer."""

    path: Path | None
    """The tokenizer inside the output directory: a file (``tokenizer/spm.model``), or for
    Hugging Face tokenizers the ``tokenizer`` directory with their files (``None`` for
    built-ins)."""

    family: str
    """Its tokenizer family."""


def prepare_tokenizer(
    ctx: RunContext,
    section: TokenizerSection,
    hub: TokenizerHub,
    *,
    corpora: Sequence[Path],
    langs: Sequence[str] = (),
) -> RunTokenizer:
    """Load ``section.name``, or train a SentencePiece model on ``corpora`` (rank 0 once;
    a resumed run finds it in ``OUTPUT_DIR/tokenizer``) and load it on every rank."""
    directory = ctx.output_dir / TOKENIZER_DIR
    if section.name is not None:
        source = hub.resolve(section.name)
        local = _copy_tokenizer(ctx, source, directory)
        return RunTokenizer(tokenizer=hub.load_source(source), path=local, family=source.family)

    existing = sorted(directory.glob("*.model")) if directory.is_dir() else []
    if existing:
        path = existing[0]
    else:

        def train() -> Path:
            text_files = [c for c in corpora if c.is_file()]
            if not text_files:
                raise RecipeError(
                    "No tokenizer is configured and there is no text to train one on; set "
                    "tokenizer.name (a card name or .model file) when training from token "
                    "datasets."
                )
            ctx.say(
                f"Training a {section.vocab_size}-piece {section.model_type} SentencePiece "
                f"tokenizer on {', '.join(map(str, text_files))}..."
            )
            trained = train_sentencepiece(
                text_files,
                output_dir=directory,
                vocab_size=section.vocab_size,
                model_type=section.model_type,
                name="spm",
                langs=list(langs),
                max_sentences=section.max_training_lines,
            )
            return trained.model_path

        ctx.main_first(train)
        path = directory / "spm.model"
    tokenizer = hub.load(path)
    return RunTokenizer(tokenizer=tokenizer, path=path, family=SENTENCEPIECE_FAMILY)


def _copy_tokenizer(ctx: RunContext, source: TokenizerSource, directory: Path) -> Path | None:
    """Copy the tokenizer of ``source`` into the run's ``tokenizer`` directory (rank 0, once);
    return the copy: a file, or ``directory`` for a Hugging Face tokenizer (a
    ``tokenizer.json`` with its config, special-token map and chat template files)."""
    path = source.path
    if path is None:
        return None
    if source.family == HF_FAMILY:

        def copy_hf() -> None:
            if not (directory / "tokenizer.json").is_file():
                copy_hf_tokenizer_files(path, directory)

        ctx.main_first(copy_hf)
        return directory
    if not path.is_file():
        return None
    local = directory / path.name

    def copy() -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if not local.exists():
            shutil.copy2(path, local)

    ctx.main_first(copy)
    return local
