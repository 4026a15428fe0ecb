"""A run's data at rest: text tokenized once into token datasets under ``OUTPUT_DIR/data``.

Rank 0 binarizes every text input with ``seqkit data preprocess``'s machinery
(:func:`seqkit.text.preprocess`) while the other ranks wait; the validation hold-out is
drawn there, once. Token datasets given by the user are used as they are. The directory
is committed as one unit: ``ready.json`` is written last and lists every dataset, so a
run killed while preparing starts the preparation over, and a resumed run reads the very
same tokens without tokenizing again.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqkit.data import DataReadError, TokenDataset
from seqkit.data.atomic import write_json
from seqkit.recipes.errors import RecipeDataError
from seqkit.recipes.run_context import RunContext
from seqkit.text import Column, Holdout, PreprocessOptions, TextTokenizer, preprocess
from seqkit.text.training import sha256_of

DATA_DIR = "data"
"""Prepared datasets inside the output directory."""

READY_FILE = "ready.json"
"""Written last: the list of prepared datasets (its absence means: prepare again)."""


@dataclass(frozen=True, kw_only=True)
class PreparedData:
    """The datasets of a run, opened and checked on this rank."""

    train: list[TokenDataset]
    """Training datasets, in the order of the config."""

    valid: list[TokenDataset]
    """Validation datasets (may be empty)."""

    valid_text: tuple[Path, ...] | None
    """Text files aligned with the first validation dataset's documents (for BLEU), if any."""

    notes: list[str]
    """What preparation reported (skipped lines...), for the user."""


@dataclass(kw_only=True)
class _Layout:
    train: list[str]
    valid: list[str]
    valid_text: list[str] | None
    notes: list[str]


def is_token_dataset(path: Path) -> bool:
    """Whether ``path`` is a token dataset (one column, or several such as source/target)."""
    return path.is_dir() and (
        (path / "index.json").is_file()
        or ((path / "source").is_dir() and (path / "target").is_dir())
    )


def check_input(path: Path, key: str) -> Path:
    """``path`` if it is a readable text file or a token dataset; else a clear error."""
    if path.is_file() or is_token_dataset(path):
        return path
    if path.is_dir():
        raise RecipeDataError(
            f"{key}: {path} is a directory but not a token dataset (no index.json, nor "
            "subdirectories with one); give a text file or the output of `seqkit data "
            "preprocess`."
        )
    raise RecipeDataError(f"{key}: {path} does not exist; check the path.")


def held_out_examples(total: int, fraction: float, seed: int) -> set[int]:
    """Indices of the ``max(1, int(total * fraction))`` examples held out for validation,
    a seeded draw; none when there are fewer than 10 examples (too few to spare any)."""
    if total < 10 or fraction <= 0:
        return set()
    num_valid = max(1, int(total * fraction))
    return set(np.random.default_rng(seed).permutation(total)[:num_valid].tolist())


def tokenizer_record(tokenizer: TextTokenizer, path: Path | None) -> dict[str, object]:
    """What a prepared dataset's manifest records about the run's tokenizer."""
    return {
        "path": None if path is None else str(path.resolve()),
        "sha256": None if path is None or not path.is_file() else sha256_of(path),
        "vocab_size": tokenizer.vocab_info.size,
    }


class DataPreparation:
    """Builds one run's ``OUTPUT_DIR/data`` on rank 0 (see the module docstring)."""

    def __init__(
        self, ctx: RunContext, tokenizer: TextTokenizer, tokenizer_path: Path | None
    ) -> None:
        self.ctx = ctx
        self.tokenizer = tokenizer
        self.record = tokenizer_record(tokenizer, tokenizer_path)
        self.root = ctx.output_dir / DATA_DIR
        self.train: list[str] = []
        self.valid: list[str] = []
        self.valid_text: list[str] | None = None
        self.notes: list[str] = []

    def run(self, build: Callable[[DataPreparation], None]) -> PreparedData:
        """Prepare with ``build`` on rank 0 unless already done; open the result everywhere."""
        ready = self.root / READY_FILE

        def prepare() -> None:
            if ready.is_file():
                return
            if self.root.exists():
                shutil.rmtree(self.root)  # an interrupted preparation: start over
            self.root.mkdir(parents=True)
            build(self)
            write_json(
                ready,
                {
                    "train": self.train,
                    "valid": self.valid,
                    "valid_text": self.valid_text,
                    "notes": self.notes,
                },
            )

        self.ctx.main_first(prepare)
        layout = _read_layout(ready)
        for note in layout.notes:
            self.ctx.say(note)
        resolve = self._resolve
        vocab_size = self.tokenizer.vocab_info.size
        sha = self.record.get("sha256")
        train = [_open(resolve(p), vocab_size, sha) for p in layout.train]
        valid = [_open(resolve(p), vocab_size, sha) for p in layout.valid]
        text = tuple(resolve(p) for p in layout.valid_text) if layout.valid_text else None
        return PreparedData(train=train, valid=valid, valid_text=text, notes=layout.notes)

    def _resolve(self, stored: str) -> Path:
        path = Path(stored)
        return path if path.is_absolute() else self.root / path

    def relative(self, path: Path) -> str:
        """How ``path`` is stored in ready.json (relative inside the data directory)."""
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    def binarize(
        self,
        columns: Sequence[Column],
        name: str,
        *,
        holdout: Holdout | None,
        max_tokens: int | None = None,
    ) -> tuple[Path, Path | None]:
        """Tokenize ``columns`` into ``data/NAME``; ``(train dir, valid dir or None)``."""
        output = self.root / name
        result = preprocess(
            columns,
            output,
            vocab_size=self.tokenizer.vocab_info.size,
            tokenizer=self.record,
            options=PreprocessOptions(max_tokens=max_tokens, progress=False),
            holdout=holdout,
        )
        skipped = result.report.lines_read - result.report.lines_kept
        if skipped:
            inputs = ", ".join(str(c.path) for c in columns)
            self.notes.append(f"{inputs}: {result.report.summary()}")
        if holdout is None:
            return output, None
        return output / "train", output / "valid"

    def limited_copy(self, path: Path, limit: int | None, name: str) -> Path:
        """``path`` itself, or a copy of its first ``limit`` lines under ``data/text``."""
        if limit is None:
            return path
        if not path.is_file():
            raise RecipeDataError(f"Data file {path} does not exist (or is not a file).")
        target = self.root / "text" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with path.open("rb") as src, target.open("wb") as dst:
            for i, line in enumerate(src):
                if i >= limit:
                    break
                dst.write(line if line.endswith(b"\n") else line + b"\n")
        return target


def _read_layout(ready: Path) -> _Layout:
    try:
        raw = json.loads(ready.read_text(encoding="utf-8"))
        return _Layout(
            train=list(raw["train"]),
            valid=list(raw["valid"]),
            valid_text=None if raw["valid_text"] is None else list(raw["valid_text"]),
            notes=list(raw.get("notes", [])),
        )
    except (OSError, ValueError, KeyError, TypeError) as ex:
        raise RecipeDataError(
            f"{ready} is unreadable ({ex}); remove {ready.parent} to prepare the data again."
        ) from ex


def _open(path: Path, vocab_size: int, sha: object) -> TokenDataset:
    try:
        dataset = TokenDataset.open(path)
        dataset.check_vocabulary(vocab_size, tokenizer_sha256=sha if isinstance(sha, str) else None)
    except DataReadError as ex:
        raise RecipeDataError(str(ex)) from ex
    return dataset
