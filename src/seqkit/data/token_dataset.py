"""Token datasets opened for random access: the batch readers' view of a dataset on disk.

A :class:`TokenDataset` memory-maps every column of a token dataset (docs/token_format.md)
after checking it: one column for a monolingual dataset, ``source``/``target`` for a
parallel one, any aligned set of columns in general. Nothing is read into memory until a
batch asks for it; document lengths are derived from the offsets on demand.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, final

import numpy as np
import numpy.typing as npt

from seqkit.data.errors import DataReadError
from seqkit.data.tokens import load_token_index, numpy_dtype

_SCAN_CHUNK = 1 << 24
"""Token ids checked per step of :meth:`TokenDataset.max_token_id` (32 MB of uint16)."""


@final
@dataclass(frozen=True)
class TokenColumn:
    """One column: ids back to back and ``N + 1`` document offsets, memory-mapped."""

    path: Path
    """The column's directory."""

    tokens: npt.NDArray[Any]
    """Every token id (``uint16`` or ``uint32``)."""

    offsets: npt.NDArray[np.uint64]
    """Document ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``."""

    @property
    def num_documents(self) -> int:
        """Number of documents."""
        return len(self.offsets) - 1

    def lengths(self) -> npt.NDArray[np.int64]:
        """The length of every document (a new int64 array of ``num_documents``)."""
        return np.diff(self.offsets).astype(np.int64)


@final
class TokenDataset:
    """A checked, memory-mapped token dataset with one or more aligned columns."""

    def __init__(self, path: Path, columns: dict[str, TokenColumn]) -> None:
        self.path = path
        """The dataset directory."""
        self.columns = columns
        """Columns by name (``""`` for a monolingual dataset)."""

    @staticmethod
    def open(path: str | Path, columns: Sequence[str] | None = None) -> TokenDataset:
        """Open the dataset at ``path``; ``columns`` names the subdirectories to use.

        Without ``columns``, a directory with ``index.json`` is a one-column dataset, and
        otherwise its subdirectories with an ``index.json`` are its columns (``source/`` and
        ``target/`` for a parallel one). Raises
        :class:`~seqkit.data.DataReadError` naming the file for a missing, truncated or
        inconsistent dataset, or for columns that do not hold the same documents count.
        """
        root = Path(path)
        if not root.is_dir():
            raise DataReadError(
                f"Token dataset {root} does not exist (or is not a directory); write one with "
                "`seqkit data preprocess` or seqkit.data.TokenWriter."
            )
        if columns is None:
            columns = dataset_columns(root)
            if not columns:
                raise DataReadError(
                    f"{root} is not a token dataset: it has no index.json, nor subdirectories "
                    "(source/ and target/, ...) that have one."
                )
        opened = {name: _open_column(root / name if name else root) for name in columns}
        counts = {name or ".": col.num_documents for name, col in opened.items()}
        if len(set(counts.values())) > 1:
            raise DataReadError(
                f"The columns of token dataset {root} are not aligned: {counts} documents; "
                "rewrite the dataset."
            )
        return TokenDataset(root, opened)

    @property
    def num_documents(self) -> int:
        """Number of documents (equal in every column)."""
        return next(iter(self.columns.values())).num_documents

    def column(self, name: str = "") -> TokenColumn:
        """The column ``name``; raises :class:`DataReadError` naming the ones there are."""
        try:
            return self.columns[name]
        except KeyError:
            have = sorted(c or "." for c in self.columns)
            raise DataReadError(
                f"Token dataset {self.path} has no column {name or '.'!r} (it has {have})."
            ) from None

    def max_token_id(self) -> int:
        """The largest id in any column (-1 when the dataset is empty); scans in chunks."""
        largest = -1
        for col in self.columns.values():
            for start in range(0, len(col.tokens), _SCAN_CHUNK):
                largest = max(largest, int(col.tokens[start : start + _SCAN_CHUNK].max()))
        return largest

    def manifest(self) -> dict[str, object] | None:
        """``manifest.json`` of the dataset (written by ``seqkit data preprocess``), if any."""
        file = self.path / "manifest.json"
        if not file.is_file():
            return None
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as ex:
            raise DataReadError(f"Cannot read {file}: {ex}") from ex
        return data if isinstance(data, dict) else None

    def check_vocabulary(self, vocab_size: int, *, tokenizer_sha256: str | None = None) -> None:
        """Raise :class:`DataReadError` when the dataset was made with another tokenizer.

        Compares the tokenizer recorded in ``manifest.json`` (when both sides know its
        sha256) and checks that every id is below ``vocab_size``.
        """
        manifest = self.manifest()
        recorded = manifest.get("tokenizer") if manifest else None
        if tokenizer_sha256 and isinstance(recorded, dict):
            theirs = recorded.get("sha256")
            if isinstance(theirs, str) and theirs != tokenizer_sha256:
                raise DataReadError(
                    f"Token dataset {self.path} was made with another tokenizer "
                    f"(sha256 {theirs[:12]}..., this run's is {tokenizer_sha256[:12]}...); "
                    "preprocess the text again with this tokenizer, or train with the "
                    "dataset's tokenizer."
                )
        largest = self.max_token_id()
        if largest >= vocab_size:
            raise DataReadError(
                f"Token dataset {self.path} holds token id {largest}, but the tokenizer has "
                f"{vocab_size} ids; the dataset was made with another tokenizer. Preprocess "
                "the text again with this tokenizer."
            )


def dataset_columns(path: Path) -> list[str]:
    """The columns of the token dataset at ``path`` (``[""]`` for a one-column dataset, none
    when ``path`` is not a token dataset)."""
    if (path / "index.json").is_file():
        return [""]
    if not path.is_dir():
        return []
    return sorted(d.name for d in path.iterdir() if (d / "index.json").is_file())


def _open_column(directory: Path) -> TokenColumn:
    info = load_token_index(directory)
    tokens = _memmap(directory / "tokens.bin", numpy_dtype(info.dtype), info.num_tokens)
    offsets = _memmap(directory / "offsets.bin", np.dtype("<u8"), info.num_documents + 1)
    if int(offsets[0]) != 0 or int(offsets[-1]) != info.num_tokens:
        raise DataReadError(
            f"Token dataset {directory} is inconsistent: offsets.bin runs from "
            f"{int(offsets[0])} to {int(offsets[-1])} but index.json says {info.num_tokens} "
            "tokens; rewrite the dataset."
        )
    return TokenColumn(directory, tokens, offsets)


def _memmap(path: Path, dtype: np.dtype[Any], count: int) -> npt.NDArray[Any]:
    expected = count * dtype.itemsize
    size = path.stat().st_size if path.is_file() else -1
    if size != expected:
        state = "is missing" if size < 0 else f"has {size} bytes"
        raise DataReadError(
            f"Token dataset file {path} {state}, expected {expected} bytes from index.json; "
            "the dataset is truncated or corrupt, rewrite it."
        )
    if count == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=(count,))
