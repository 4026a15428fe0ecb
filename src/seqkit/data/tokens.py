"""The binarized token dataset format (see docs/token_format.md): reading and writing."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import numpy as np

from seqkit import _native
from seqkit._native import DataPipelineBuilder
from seqkit.data.errors import DataReadError

TOKEN_FORMAT: Final = "seqkit.tokens"
TOKEN_FORMAT_VERSION: Final = 1

TokenDType = Literal["uint16", "uint32"]


@dataclass(kw_only=True, frozen=True)
class TokenDatasetInfo:
    """The contents of a token dataset's ``index.json``."""

    dtype: TokenDType
    """Width of a token id on disk."""

    num_documents: int
    """Number of documents (N); ``offsets.bin`` holds N + 1 offsets."""

    num_tokens: int
    """Total number of tokens (T) in ``tokens.bin``."""


def load_token_index(directory: str | Path) -> TokenDatasetInfo:
    """Read and check ``index.json`` of a token dataset directory."""
    index = Path(directory) / "index.json"
    try:
        raw = json.loads(index.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataReadError(
            f"'{index}' does not exist; '{directory}' is not a token dataset "
            "(write one with seqkit.data.write_tokens or `seqkit data preprocess`)"
        ) from None
    except (OSError, ValueError) as ex:
        raise DataReadError(f"cannot read '{index}': {ex}") from ex
    if not isinstance(raw, dict) or raw.get("format") != TOKEN_FORMAT:
        raise DataReadError(f"'{index}': 'format' must be '{TOKEN_FORMAT}'")
    if raw.get("version") != TOKEN_FORMAT_VERSION:
        raise DataReadError(
            f"'{index}': version {raw.get('version')!r} is not supported; "
            f"this seqkit reads version {TOKEN_FORMAT_VERSION}"
        )
    dtype = raw.get("dtype")
    if dtype not in ("uint16", "uint32"):
        raise DataReadError(f"'{index}': 'dtype' must be 'uint16' or 'uint32', not {dtype!r}")
    for key in ("num_documents", "num_tokens"):
        value = raw.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise DataReadError(f"'{index}': '{key}' must be a non-negative int, not {value!r}")
    return TokenDatasetInfo(
        dtype=dtype, num_documents=raw["num_documents"], num_tokens=raw["num_tokens"]
    )


def read_tokens(path: str | Path) -> DataPipelineBuilder:
    """Start a pipeline over a token dataset: one 1-d integer tensor per document.

    The tensors are zero-copy views of the memory-mapped ``tokens.bin`` (dtype uint16
    or uint32). A parallel dataset (``source/`` and ``target/``) yields
    ``{"source": tensor, "target": tensor}``. A ``shard()`` right after this source
    reads only that shard's documents.
    """
    root = Path(path)
    if (
        (root / "source").is_dir()
        and (root / "target").is_dir()
        and not (root / "index.json").exists()
    ):
        src, tgt = _read_one(root / "source"), _read_one(root / "target")
        return _native.zip([src.and_return(), tgt.and_return()], ["source", "target"], False, False)
    return _read_one(root)


def _read_one(directory: Path) -> DataPipelineBuilder:
    info = load_token_index(directory)
    return _native.read_tokens(str(directory), info.dtype, info.num_documents, info.num_tokens)


def write_tokens(
    path: str | Path,
    documents: Iterable[Sequence[int] | np.ndarray],
    *,
    dtype: TokenDType = "uint16",
) -> TokenDatasetInfo:
    """Write ``documents`` (sequences of token ids) as a token dataset directory.

    The directory is written under a temporary name beside ``path`` and renamed when
    complete, so a reader never sees half a dataset. Raises ``ValueError`` when an id
    does not fit ``dtype``.
    """
    target = Path(path)
    limit = 0xFFFF if dtype == "uint16" else 0xFFFFFFFF
    np_dtype = np.dtype("<u2" if dtype == "uint16" else "<u4")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        offsets = [0]
        with open(tmp / "tokens.bin", "wb") as out:
            for i, doc in enumerate(documents):
                ids = np.asarray(doc, dtype=np.int64)
                if ids.ndim != 1:
                    raise ValueError(f"document {i} is not a flat sequence of token ids")
                if ids.size and (ids.min() < 0 or ids.max() > limit):
                    raise ValueError(
                        f"document {i} holds token ids outside [0, {limit}]; use dtype='uint32'"
                    )
                out.write(ids.astype(np_dtype).tobytes())
                offsets.append(offsets[-1] + int(ids.size))
        np.asarray(offsets, dtype=np.dtype("<u8")).tofile(tmp / "offsets.bin")
        info = TokenDatasetInfo(dtype=dtype, num_documents=len(offsets) - 1, num_tokens=offsets[-1])
        index = {
            "format": TOKEN_FORMAT,
            "version": TOKEN_FORMAT_VERSION,
            "dtype": dtype,
            "num_documents": info.num_documents,
            "num_tokens": info.num_tokens,
        }
        (tmp / "index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info
