"""Token datasets on disk (the ``seqkit.tokens`` format) as flat, memory-mapped streams.

A dataset directory holds ``index.json``, ``tokens.bin`` (documents back to back) and
``offsets.bin`` (N+1 uint64). Recipes tokenize text once into this format inside the
output directory, so a resumed run reads exactly the same tokens without re-tokenizing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from seqkit.data import load_token_index, write_tokens
from seqkit.data.tokens import TokenDType
from seqkit.recipes.errors import RecipeDataError


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
    """Write ``stream`` as a token dataset, atomically (see :func:`seqkit.data.write_tokens`)."""
    dtype: TokenDType = "uint16" if stream.tokens.dtype == np.uint16 else "uint32"
    bounds = stream.offsets.tolist()
    documents = (stream.tokens[a:b] for a, b in itertools.pairwise(bounds))
    write_tokens(directory, documents, dtype=dtype)


def is_token_dataset(path: Path) -> bool:
    """Whether ``path`` is a token-dataset directory."""
    return path.is_dir() and (path / "index.json").is_file()


def read_token_dataset(directory: Path) -> TokenStream:
    """Memory-map the token dataset in ``directory`` after checking its index.

    The recipes need random access to packed rows across document boundaries (a global
    permutation per epoch, see :mod:`seqkit.recipes.batching`), so they map the arrays
    directly; the format and its checks are :mod:`seqkit.data`'s.
    """
    info = load_token_index(directory)
    dtype = np.dtype(info.dtype).newbyteorder("<")
    tokens = _memmap(directory / "tokens.bin", dtype, info.num_tokens)
    offsets = _memmap(directory / "offsets.bin", np.dtype("<u8"), info.num_documents + 1)
    if info.num_documents and (int(offsets[-1]) != info.num_tokens or int(offsets[0]) != 0):
        raise RecipeDataError(
            f"Token dataset {directory} is inconsistent: offsets end at {int(offsets[-1])} "
            f"but index.json says {info.num_tokens} tokens; rewrite the dataset."
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
