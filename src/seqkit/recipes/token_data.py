"""Token datasets on disk (the ``seqkit.tokens`` format) as flat, memory-mapped streams.

A dataset directory holds ``index.json``, ``tokens.bin`` (documents back to back) and
``offsets.bin`` (N+1 uint64). Recipes tokenize text once into this format inside the
output directory, so a resumed run reads exactly the same tokens without re-tokenizing.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from seqkit.recipes.errors import RecipeDataError

_FORMAT = "seqkit.tokens"


@dataclass(frozen=True)
class TokenStream:
    """Documents back to back: document ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``."""

    tokens: npt.NDArray[Any]
    """Every token id (uint16 or uint32, possibly memory-mapped)."""

    offsets: npt.NDArray[Any]
    """``N + 1`` document start offsets; the last is ``len(tokens)``."""

    @property
    def num_documents(self) -> int:
        """Number of documents."""
        return len(self.offsets) - 1

    def document(self, index: int) -> npt.NDArray[np.int64]:
        """Document ``index`` as int64 ids."""
        start, end = int(self.offsets[index]), int(self.offsets[index + 1])
        return np.asarray(self.tokens[start:end], dtype=np.int64)


def stream_from_documents(documents: Iterable[Sequence[int]], vocab_size: int) -> TokenStream:
    """Build an in-memory stream from token-id lists."""
    dtype = np.uint16 if vocab_size <= 65_536 else np.uint32
    lengths = [0]
    parts: list[npt.NDArray[Any]] = []
    for doc in documents:
        parts.append(np.asarray(doc, dtype=dtype))
        lengths.append(len(doc))
    tokens = np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
    offsets = np.cumsum(np.asarray(lengths, dtype=np.uint64), dtype=np.uint64)
    return TokenStream(tokens, offsets)


def write_token_dataset(stream: TokenStream, directory: Path) -> None:
    """Write ``stream`` as a token dataset, atomically (temp dir, then rename)."""
    tmp = directory.with_name(directory.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    stream.tokens.astype(stream.tokens.dtype.newbyteorder("<"), copy=False).tofile(
        tmp / "tokens.bin"
    )
    stream.offsets.astype("<u8", copy=False).tofile(tmp / "offsets.bin")
    index = {
        "format": _FORMAT,
        "version": 1,
        "dtype": str(stream.tokens.dtype),
        "num_documents": stream.num_documents,
        "num_tokens": len(stream.tokens),
    }
    (tmp / "index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    for name in ("tokens.bin", "offsets.bin", "index.json"):
        with open(tmp / name, "rb") as f:
            os.fsync(f.fileno())
    if directory.exists():
        shutil.rmtree(directory)
    tmp.rename(directory)


def is_token_dataset(path: Path) -> bool:
    """Whether ``path`` is a token-dataset directory."""
    return path.is_dir() and (path / "index.json").is_file()


def read_token_dataset(directory: Path) -> TokenStream:
    """Memory-map the token dataset in ``directory`` after checking its index."""
    index_path = directory / "index.json"
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as ex:
        raise RecipeDataError(f"Cannot read token dataset index {index_path}: {ex}.") from ex
    if index.get("format") != _FORMAT or index.get("dtype") not in ("uint16", "uint32"):
        raise RecipeDataError(
            f"{index_path} is not a seqkit token dataset (format {index.get('format')!r}, "
            f"dtype {index.get('dtype')!r}); write one with `seqkit data preprocess`."
        )
    dtype = np.dtype(index["dtype"]).newbyteorder("<")
    num_tokens, num_docs = int(index["num_tokens"]), int(index["num_documents"])
    tokens = _memmap(directory / "tokens.bin", dtype, num_tokens)
    offsets = _memmap(directory / "offsets.bin", np.dtype("<u8"), num_docs + 1)
    if num_docs and (int(offsets[-1]) != num_tokens or int(offsets[0]) != 0):
        raise RecipeDataError(
            f"Token dataset {directory} is inconsistent: offsets end at {int(offsets[-1])} "
            f"but index.json says {num_tokens} tokens; rewrite the dataset."
        )
    return TokenStream(tokens, offsets)


def _memmap(path: Path, dtype: np.dtype[Any], count: int) -> npt.NDArray[Any]:
    expected = count * dtype.itemsize
    size = path.stat().st_size if path.is_file() else -1
    if size != expected:
        raise RecipeDataError(
            f"Token dataset file {path} has {size} bytes, expected {expected} from "
            f"index.json; the dataset is truncated or corrupt, rewrite it."
        )
    if count == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=(count,))
