"""Writing the token dataset format of ``docs/architecture.md``, atomically.

A dataset is built under ``.<name>.partial-<pid>`` beside its final path and renamed
into place only when complete, so a crash (even ``kill -9``) never leaves a half-written
dataset at the final path; leftovers of dead processes are removed by the next run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Final, final

import numpy as np
import numpy.typing as npt

from seqkit.text.errors import PreprocessError

TOKENS_FORMAT: Final = "seqkit.tokens"
TOKENS_VERSION: Final = 1
UINT16_MAX_VOCAB: Final = 1 << 16


def token_dtype(vocab_size: int) -> np.dtype[np.unsignedinteger]:
    """``uint16`` when every id fits (vocabulary of at most 65536), else ``uint32``."""
    return np.dtype("<u2") if vocab_size <= UINT16_MAX_VOCAB else np.dtype("<u4")


@final
class TokenDatasetWriter:
    """Appends documents to ``tokens.bin`` and writes ``offsets.bin`` + ``index.json`` on close."""

    def __init__(self, directory: Path, dtype: np.dtype[np.unsignedinteger]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._dir = directory
        self._dtype = dtype
        self._tokens = (directory / "tokens.bin").open("wb")
        self._lengths: list[npt.NDArray[np.int64]] = []
        self.num_documents = 0
        self.num_tokens = 0

    @property
    def dtype(self) -> np.dtype[np.unsignedinteger]:
        """The on-disk dtype of token ids."""
        return self._dtype

    def write(self, tokens: npt.NDArray[np.integer], lengths: npt.NDArray[np.int64]) -> None:
        """Append documents given back to back in ``tokens`` with their ``lengths``."""
        if int(lengths.sum()) != tokens.shape[0]:
            raise ValueError("The lengths do not add up to the number of tokens.")
        self._tokens.write(np.ascontiguousarray(tokens, dtype=self._dtype).tobytes())
        self._lengths.append(lengths.astype(np.int64, copy=False))
        self.num_documents += int(lengths.shape[0])
        self.num_tokens += int(tokens.shape[0])

    def close(self) -> dict[str, object]:
        """Finish the files, fsync them and return the ``index.json`` content."""
        self._tokens.flush()
        os.fsync(self._tokens.fileno())
        self._tokens.close()
        offsets = np.zeros(self.num_documents + 1, dtype="<u8")
        if self._lengths:
            np.cumsum(np.concatenate(self._lengths), out=offsets[1:])
        _write_file(self._dir / "offsets.bin", offsets.tobytes())
        index = {
            "format": TOKENS_FORMAT,
            "version": TOKENS_VERSION,
            "dtype": "uint16" if self._dtype.itemsize == 2 else "uint32",
            "num_documents": self.num_documents,
            "num_tokens": self.num_tokens,
        }
        _write_file(self._dir / "index.json", (json.dumps(index, indent=2) + "\n").encode())
        return index

    def abort(self) -> None:
        """Close the open file without finishing (the directory is removed by its owner)."""
        self._tokens.close()


def _write_file(path: Path, data: bytes) -> None:
    with path.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def write_json(path: Path, payload: object) -> None:
    """Write ``payload`` as indented JSON and fsync it."""
    _write_file(path, (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@final
class AtomicDirectory:
    """A context manager yielding a temporary directory that becomes ``final`` on success.

    On an exception (``KeyboardInterrupt`` included) the temporary directory is removed;
    with ``overwrite`` an existing ``final`` is replaced only after the new one is complete.
    """

    def __init__(self, final: Path, *, overwrite: bool = False) -> None:
        self.final = final
        self._overwrite = overwrite
        self.temp = final.with_name(f".{final.name}.partial-{os.getpid()}")

    def __enter__(self) -> Path:
        if self.final.exists() and not self._overwrite:
            raise PreprocessError(
                f"{self.final} already exists; remove it or pass --overwrite.", path=self.final
            )
        self.final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(self.final)
        if self.temp.exists():
            shutil.rmtree(self.temp)
        self.temp.mkdir()
        return self.temp

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is not None:
            shutil.rmtree(self.temp, ignore_errors=True)
            return
        old = self.final.with_name(f".{self.final.name}.old-{os.getpid()}")
        try:
            if self.final.exists():
                os.replace(self.final, old)
            os.replace(self.temp, self.final)
        except OSError:
            shutil.rmtree(self.temp, ignore_errors=True)
            raise
        _fsync_dir(self.final.parent)
        shutil.rmtree(old, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # some filesystems refuse fsync on directories
            os.fsync(fd)
    finally:
        os.close(fd)


def _partials(final: Path) -> Iterator[tuple[Path, int]]:
    prefix = f".{final.name}.partial-"
    if not final.parent.is_dir():
        return
    for entry in final.parent.iterdir():
        suffix = entry.name.removeprefix(prefix)
        if suffix != entry.name and suffix.isdigit():
            yield entry, int(suffix)


def remove_stale_partials(final: Path) -> list[Path]:
    """Remove temporary directories left for ``final`` by processes that no longer run."""
    removed = []
    for path, pid in _partials(final):
        if pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
