"""The binarized token dataset format (see docs/token_format.md): reading and writing."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Final, Literal, final

import numpy as np
import numpy.typing as npt

from seqkit import _native
from seqkit._native import DataPipelineBuilder
from seqkit.data.atomic import AtomicDirectory, write_json
from seqkit.data.errors import DataReadError

TOKEN_FORMAT: Final = "seqkit.tokens"
TOKEN_FORMAT_VERSION: Final = 1

TokenDType = Literal["uint16", "uint32"]

UINT16_MAX_VOCAB: Final = 1 << 16
"""The largest vocabulary whose ids (0 to 65535) fit ``uint16``."""


def token_dtype(vocab_size: int) -> TokenDType:
    """``"uint16"`` when every id of the vocabulary fits (at most 65536 ids), else ``"uint32"``."""
    return "uint16" if vocab_size <= UINT16_MAX_VOCAB else "uint32"


def numpy_dtype(dtype: TokenDType) -> np.dtype[np.unsignedinteger]:
    """The little-endian NumPy dtype of ``dtype`` (the on-disk byte order)."""
    return np.dtype("<u2" if dtype == "uint16" else "<u4")


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


def concat_token_ids(
    batch: list[list[int]],
    *,
    prefix: Sequence[int] = (),
    suffix: Sequence[int] = (),
    dtype: Literal["uint16", "uint32", "int64"] = "uint16",
) -> tuple[npt.NDArray[np.integer], npt.NDArray[np.int64]]:
    """Join rows of token ids into one array (``prefix + row + suffix`` each) and their lengths.

    The loop runs in C++, so a batch encoder's lists become a :class:`TokenWriter` batch
    without a Python-level pass over every id. Raises ``ValueError`` naming the row when an
    id does not fit ``dtype``.
    """
    return _native.concat_ids(batch, list(prefix), list(suffix), dtype)


def write_tokens(
    path: str | Path,
    documents: Iterable[Sequence[int] | np.ndarray],
    *,
    dtype: TokenDType = "uint16",
) -> TokenDatasetInfo:
    """Write ``documents`` (sequences of token ids) as a token dataset directory.

    A shorthand for :class:`TokenWriter` with ``overwrite=True``: the directory appears
    complete or not at all. Raises ``ValueError`` when an id does not fit ``dtype``.
    """
    with TokenWriter(path, dtype=dtype, overwrite=True) as writer:
        for i, doc in enumerate(documents):
            ids = np.asarray(doc, dtype=np.int64)
            if ids.ndim != 1:
                raise ValueError(f"document {i} is not a flat sequence of token ids")
            writer.write(ids, np.array([ids.size], dtype=np.int64))
    return writer.info()


@final
class _Column:
    """``tokens.bin`` and ``offsets.bin`` of one column, open for appending.

    Offsets stream to disk batch by batch (running sums), so memory stays flat however
    many documents a corpus has (an in-memory list of lengths would take 8 bytes each).
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.tokens: BinaryIO = (directory / "tokens.bin").open("wb")
        self.offsets: BinaryIO = (directory / "offsets.bin").open("wb")
        self.offsets.write(np.zeros(1, dtype="<u8").tobytes())
        self.num_documents = 0
        self.num_tokens = 0

    def close(self) -> None:
        self.tokens.close()
        self.offsets.close()


@final
class TokenWriter:
    """Streams documents into a token dataset (docs/token_format.md), atomically.

    Everything goes to a hidden directory beside ``path`` that is renamed into place by
    :meth:`commit` (or on leaving the ``with`` block without an exception); an exception,
    Ctrl-C or a crash leaves no dataset at ``path``. ``columns=("source", "target")``
    writes a parallel dataset: one subdirectory per column, documents aligned by index.
    Documents arrive in batches: all ids back to back plus the length of each, which is
    what a batch encoder produces, so nothing is copied per document.

    Columns may be nested, so several datasets are committed as one unit (one rename):
    ``columns=("train/source", "train/target", "valid/source", "valid/target")``. The
    columns that share a parent directory form a group, and the columns of a group must
    end with the same number of documents; here ``train/*`` and ``valid/*`` are checked
    apart, while today's top-level ``("source", "target")`` are one group. Datasets that
    share a parent but are not aligned, such as the monolingual splits ``train`` and
    ``valid``, are given as explicit groups instead: ``groups=[["train"], ["valid"]]``
    (each inner list is one aligned group; ``columns`` and ``groups`` are exclusive). A
    column name is a relative ``/``-separated path without ``.``, ``..`` or empty parts,
    and no column may lie inside another.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        dtype: TokenDType = "uint16",
        columns: Sequence[str] | None = None,
        groups: Sequence[Sequence[str]] | None = None,
        overwrite: bool = False,
    ) -> None:
        if dtype not in ("uint16", "uint32"):
            raise ValueError(f"dtype must be 'uint16' or 'uint32', not {dtype!r}")
        self.path = Path(path)
        self.dtype: TokenDType = dtype
        """The on-disk width of a token id."""
        self._np_dtype = numpy_dtype(dtype)
        self._limit = int(np.iinfo(self._np_dtype).max)
        self._groups = _column_groups(columns, groups)
        self._dir = AtomicDirectory(self.path, overwrite=overwrite)
        self._columns: dict[str, _Column] = {}
        self._extra: list[BinaryIO] = []
        try:
            for group in self._groups:
                for name in group:
                    self._columns[name] = _Column(self._dir.temp / name)
        except BaseException:
            self.abort()
            raise

    @property
    def temp_dir(self) -> Path:
        """Where the dataset is being written (hidden until :meth:`commit`)."""
        return self._dir.temp

    def write(
        self,
        tokens: npt.NDArray[np.integer],
        lengths: npt.NDArray[np.integer],
        *,
        column: str | None = None,
    ) -> None:
        """Append ``len(lengths)`` documents whose ids are ``tokens``, back to back.

        ``tokens`` already of the dataset's dtype is written as it is; any other integer
        dtype is range-checked first (``ValueError`` naming the id when it does not fit).
        """
        col = self._column(column)
        if lengths.size and int(lengths.min()) < 0:
            raise ValueError(f"a document length is negative ({int(lengths.min())})")
        if int(lengths.sum()) != tokens.shape[0] or tokens.ndim != 1:
            raise ValueError(
                f"the lengths add up to {int(lengths.sum())} but {tokens.shape} tokens were given"
            )
        if tokens.dtype != self._np_dtype:
            if tokens.size and (int(tokens.min()) < 0 or int(tokens.max()) > self._limit):
                bad = int(tokens.min()) if int(tokens.min()) < 0 else int(tokens.max())
                raise ValueError(
                    f"token id {bad} does not fit {self.dtype} (0 to {self._limit}); "
                    "use dtype='uint32'"
                )
            tokens = tokens.astype(self._np_dtype)
        np.ascontiguousarray(tokens).tofile(col.tokens)
        ends = np.cumsum(lengths, dtype=np.uint64)
        ends += np.uint64(col.num_tokens)
        ends.astype("<u8", copy=False).tofile(col.offsets)
        col.num_documents += int(lengths.shape[0])
        col.num_tokens += int(tokens.shape[0])

    def add_json(self, name: str, payload: object) -> None:
        """Write an extra JSON file (a manifest) in the dataset (``name`` may be nested)."""
        target = self._dir.temp / _relative(name, "a file name")
        target.parent.mkdir(parents=True, exist_ok=True)
        write_json(target, payload)

    def open_file(self, name: str) -> BinaryIO:
        """Open an extra file of the dataset for writing in binary (``"valid/text.txt"``).

        The caller writes it (and may close it); the writer fsyncs and closes it at
        :meth:`commit` (it is committed with the dataset) and removes it on :meth:`abort`.
        """
        target = self._dir.temp / _relative(name, "a file name")
        if target.exists():
            raise ValueError(f"{name!r} is already in the dataset")
        target.parent.mkdir(parents=True, exist_ok=True)
        file: BinaryIO = target.open("wb")
        self._extra.append(file)
        return file

    def commit(self) -> None:
        """Finish every column (offsets, ``index.json``, fsync) and move the dataset into place.

        Raises ``ValueError`` (and removes everything) when the columns of a group hold
        different numbers of documents.
        """
        for group in self._groups:
            counts = {name: self._columns[name].num_documents for name in group}
            if len(set(counts.values())) > 1:
                self.abort()
                if len(self._groups) == 1:
                    raise ValueError(
                        "the columns hold different numbers of documents: "
                        f"{sorted(set(counts.values()))}"
                    )
                raise ValueError(
                    f"the columns of one group hold different numbers of documents: {counts}"
                )
        try:
            for col in self._columns.values():
                self._finish(col)
            for file in self._extra:
                if file.closed:  # closed by the caller: fsync through a new descriptor
                    with open(file.name, "rb") as again:
                        os.fsync(again.fileno())
                else:
                    file.flush()
                    os.fsync(file.fileno())
                    file.close()
            self._dir.commit()
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Close the files and remove everything written; ``path`` is left as it was."""
        for col in self._columns.values():
            col.close()
        for file in self._extra:
            file.close()
        self._dir.abort()

    def info(self, column: str | None = None) -> TokenDatasetInfo:
        """What ``index.json`` of ``column`` says (so far, before :meth:`commit`)."""
        col = self._column(column)
        return TokenDatasetInfo(
            dtype=self.dtype, num_documents=col.num_documents, num_tokens=col.num_tokens
        )

    def _column(self, column: str | None) -> _Column:
        try:
            return self._columns[column or ""]
        except KeyError:
            raise ValueError(
                f"no column {column!r}; this writer has {sorted(self._columns)}"
            ) from None

    def _finish(self, col: _Column) -> None:
        for file in (col.tokens, col.offsets):
            file.flush()
            os.fsync(file.fileno())
        col.close()
        index = {
            "format": TOKEN_FORMAT,
            "version": TOKEN_FORMAT_VERSION,
            "dtype": self.dtype,
            "num_documents": col.num_documents,
            "num_tokens": col.num_tokens,
        }
        write_json(col.directory / "index.json", index)

    def __enter__(self) -> TokenWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def _relative(name: str, what: str) -> str:
    """``name`` if it is a relative ``/``-separated path without ``.``, ``..`` or empty parts."""
    parts = name.split("/")
    if not name or "\\" in name or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"{what} must be a relative path like 'train/source', not {name!r}")
    return name


def _column_groups(
    columns: Sequence[str] | None, groups: Sequence[Sequence[str]] | None
) -> list[list[str]]:
    """The aligned groups of a :class:`TokenWriter`: ``[[""]]`` for a single dataset."""
    if columns is not None and groups is not None:
        raise ValueError("give columns or groups, not both")
    if groups is not None:
        if (
            isinstance(groups, str)
            or not groups
            or any(isinstance(g, str) or not g for g in groups)
        ):
            raise ValueError(f"groups must be non-empty lists of column names, got {groups!r}")
        result = [list(g) for g in groups]
    elif columns:
        if isinstance(columns, str):
            raise ValueError(f"columns must be a sequence of names, not the string {columns!r}")
        by_parent: dict[str, list[str]] = {}
        for name in columns:
            parent = name.rpartition("/")[0] if isinstance(name, str) else ""
            by_parent.setdefault(parent, []).append(name)
        result = list(by_parent.values())
    else:
        return [[""]]
    names = [name for group in result for name in group]
    if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"columns must be distinct non-empty names, got {names!r}")
    for name in names:
        _relative(name, "a column")
    for name in names:
        for other in names:
            if other.startswith(name + "/"):
                raise ValueError(f"column {other!r} lies inside column {name!r}")
    return result
