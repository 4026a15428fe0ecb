"""Durable file writes: every checkpoint file is fsynced before the manifest names it."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import struct
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final, cast

import torch
from safetensors.torch import load_file
from torch import Tensor

from seqkit.checkpoint.errors import CheckpointError

_NO_SPACE: Final = frozenset({errno.ENOSPC, errno.EDQUOT})


def write_chunk(fd: int, data: bytes | memoryview) -> None:
    """Write all of ``data`` to ``fd``; every checkpoint byte goes through this one function."""
    view = memoryview(data).cast("B")
    while view:
        written = os.write(fd, view)
        view = view[written:]


class _FdWriter:
    """A write-only file object over ``fd`` for ``torch.save``.

    ``torch.save`` turns an exception raised by ``write`` into a bare ``RuntimeError``; the
    original (with its errno) is kept in :attr:`error` and re-raised by :func:`open_durable`.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self.error: OSError | None = None

    def write(self, data: bytes | memoryview) -> int:
        try:
            write_chunk(self._fd, data)
        except OSError as ex:
            self.error = ex
            raise
        return memoryview(data).nbytes

    def flush(self) -> None:
        pass


@contextmanager
def open_durable(path: Path) -> Iterator[_FdWriter]:
    """Create ``path`` for writing; fsync it on success.

    An ``OSError`` (also one that a serializer swallowed into another exception) is raised
    as a :class:`CheckpointError` naming the path; a full disk says "No space left on device".
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    writer = _FdWriter(fd)
    try:
        try:
            yield writer
            os.fsync(fd)
        finally:
            os.close(fd)
    except Exception as ex:
        error = writer.error or (ex if isinstance(ex, OSError) else None)
        if error is None:
            raise
        raise write_error(path, error) from error


def write_error(path: Path, error: OSError) -> CheckpointError:
    """A :class:`CheckpointError` for a failed write of ``path``."""
    if error.errno in _NO_SPACE:
        return CheckpointError(
            f"No space left on device while writing {path} ({error.strerror}). Free space "
            f"on that filesystem or point the checkpoints elsewhere; the checkpoints "
            f"committed before this one are intact.",
            path=path,
        )
    return CheckpointError(f"Cannot write {path}: {error.strerror or error}.", path=path)


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and fsync it."""
    with open_durable(path) as writer:
        writer.write(data)


def fsync_file(path: Path) -> None:
    """Flush ``path``'s data to stable storage."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush ``path``'s directory entries (a rename is durable only after this)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


_SAFETENSORS_DTYPES: Final = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
    torch.float8_e4m3fn: "F8_E4M3",
    torch.float8_e5m2: "F8_E5M2",
}


def save_tensors(tensors: Mapping[str, Tensor], path: Path) -> None:
    """Write a flat tensor mapping as safetensors (fsynced), one tensor at a time.

    Tied weights share storage; every name is written with its own copy of the bytes, and
    loading writes the same values into the shared parameter twice.
    """
    flat = {name: tensor.detach().cpu() for name, tensor in tensors.items()}
    header: dict[str, object] = {}
    offset = 0
    for name, t in flat.items():
        if t.dtype not in _SAFETENSORS_DTYPES:
            raise CheckpointError(f"Tensor {name!r} has unsupported dtype {t.dtype}.", path=path)
        nbytes = t.numel() * t.element_size()
        header[name] = {
            "dtype": _SAFETENSORS_DTYPES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # 8-byte alignment of the data section
    with open_durable(path) as writer:
        writer.write(struct.pack("<Q", len(encoded)) + encoded)
        for t in flat.values():
            if t.numel():
                writer.write(t.contiguous().reshape(-1).view(torch.uint8).numpy().data)


def load_tensors(path: Path) -> dict[str, Tensor]:
    """Read a safetensors file onto the CPU (never executes code)."""
    return load_file(str(path), device="cpu")


def save_object(obj: object, path: Path) -> None:
    """``torch.save`` of tensors and plain Python values (loadable with ``weights_only=True``)."""
    with open_durable(path) as writer:
        torch.save(obj, cast(IO[bytes], writer))  # it only calls write() and flush()


def load_object(path: Path) -> object:
    """``torch.load`` with ``weights_only=True``: never unpickles arbitrary objects."""
    return torch.load(path, map_location="cpu", weights_only=True)
