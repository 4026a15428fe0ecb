"""Reading and writing weight files: safetensors (memory-mapped) and safe torch pickles.

Safetensors files are parsed here rather than through ``safetensors.safe_open`` so that
each tensor is a zero-copy view of a private memory map. The loader keeps such views as the
model's parameters when dtype and device allow; when it must convert or move a tensor, the
pages of the tensor are dropped from the process (``MADV_DONTNEED``) right after it was
copied, which keeps peak memory at about one copy of the weights.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import mmap
import os
import struct
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final, final

import torch
from torch import Tensor
from typing_extensions import override

from seqkit.models.errors import CheckpointError

log = logging.getLogger(__name__)

_DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
}
_DTYPE_NAMES = {dtype: name for name, dtype in _DTYPES.items()}

# Large tensors are copied in slices of this size, each released right after.
_COPY_CHUNK_BYTES = 8 * 1024 * 1024

# Refuse headers larger than this: a corrupt length field must not make us read gigabytes.
_MAX_HEADER_BYTES = 100 * 1024 * 1024

CHECKSUMS_NAME: Final = "checksums.sha256"
"""Beside the weights of a model directory seqkit wrote: ``<sha256>  <file name>`` lines,
the format of ``sha256sum`` (so ``sha256sum -c checksums.sha256`` checks them too)."""

# Files whose sha256 matched in this process, by (path, device, inode, size, mtime, ctime):
# loading the same unchanged file again does not hash it again. Any write through the
# filesystem changes ctime (which, unlike mtime, cannot be set back), so it hashes again.
_VERIFIED: set[tuple[str, int, int, int, int, int]] = set()


class WeightFile(ABC):
    """One file of tensors whose shapes are known before any data is read."""

    path: Path

    @abstractmethod
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of every tensor, by key."""

    @abstractmethod
    def read(self, key: str) -> Tensor:
        """The tensor ``key`` on the CPU (a view of the file where possible)."""

    def copy_to(self, key: str, out: Tensor) -> None:
        """Copy tensor ``key`` into ``out`` (same shape; any dtype and device)."""
        out.copy_(self.read(key))

    def view(self, key: str) -> Tensor | None:
        """Tensor ``key`` as a zero-copy view of the file that may outlive :meth:`close`
        (the file stays mapped while a view lives), or ``None`` where there is none."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Unmap and close the file."""


@final
class SafetensorsFile(WeightFile):
    """A ``.safetensors`` file read through a private memory map."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with open(path, "rb") as fp:
                size = os.fstat(fp.fileno()).st_size
                if size < 8:
                    raise CheckpointError(path, "the file is too short to be safetensors")
                (header_len,) = struct.unpack("<Q", fp.read(8))
                if header_len > min(_MAX_HEADER_BYTES, size - 8):
                    raise CheckpointError(path, "the safetensors header length is corrupt")
                header = json.loads(fp.read(header_len))
                # ACCESS_COPY: a private, writable mapping, so torch.frombuffer gets a
                # writable buffer without copying; nothing is ever written back to the file.
                self._map = mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_COPY)
        except OSError as ex:
            raise CheckpointError(path, f"cannot read the file ({ex.strerror})") from ex
        except (json.JSONDecodeError, UnicodeDecodeError) as ex:
            raise CheckpointError(path, "the safetensors header is not valid JSON") from ex
        self._data_start = 8 + header_len
        self._shared = False
        self._entries: dict[str, tuple[torch.dtype, tuple[int, ...], int, int]] = {}
        for key, entry in header.items():
            if key == "__metadata__":
                continue
            dtype = _DTYPES.get(entry.get("dtype"))
            if dtype is None:
                raise CheckpointError(path, f"tensor '{key}' has unsupported dtype {entry}")
            begin, end = entry["data_offsets"]
            shape = tuple(int(n) for n in entry["shape"])
            if self._data_start + end > size or begin > end:
                raise CheckpointError(path, f"tensor '{key}' lies outside the file (truncated?)")
            self._entries[key] = (dtype, shape, self._data_start + begin, end - begin)

    @override
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {key: entry[1] for key, entry in self._entries.items()}

    @override
    def read(self, key: str) -> Tensor:
        dtype, shape, offset, nbytes = self._entries[key]
        if nbytes == 0:
            return torch.empty(shape, dtype=dtype)
        flat = torch.frombuffer(self._map, dtype=torch.uint8, count=nbytes, offset=offset)
        if offset % flat.new_empty((), dtype=dtype).element_size():
            # The format does not promise alignment; a misaligned tensor is copied once.
            flat = flat.clone()
        return flat.view(dtype).view(shape)

    @override
    def view(self, key: str) -> Tensor | None:
        dtype, _, offset, nbytes = self._entries[key]
        if nbytes == 0 or offset % torch.empty((), dtype=dtype).element_size():
            return None
        # torch.frombuffer holds a reference to the map, not a buffer export, so close()
        # could unmap memory a view still uses: once a view is out, close() leaves the map
        # to be unmapped by the garbage collector when the last view dies.
        self._shared = True
        return self.read(key)

    @override
    def copy_to(self, key: str, out: Tensor) -> None:
        source = self.read(key)
        _, _, offset, nbytes = self._entries[key]
        if source.dim() == 0 or nbytes <= _COPY_CHUNK_BYTES:
            out.copy_(source)
            self._release(offset, nbytes)
            return
        # Copy a few MiB at a time and drop those pages at once, so a large tensor (the
        # embedding) never sits in memory twice.
        row_bytes = nbytes // source.shape[0]
        rows = max(1, _COPY_CHUNK_BYTES // max(row_bytes, 1))
        for begin in range(0, source.shape[0], rows):
            out[begin : begin + rows].copy_(source[begin : begin + rows])
            chunk_rows = min(rows, source.shape[0] - begin)
            self._release(offset + begin * row_bytes, chunk_rows * row_bytes)

    def _release(self, offset: int, nbytes: int) -> None:
        """Drop the mapped pages of a byte range from this process (re-read if touched)."""
        if nbytes <= 0 or not hasattr(mmap, "MADV_DONTNEED"):
            return
        start = offset - offset % mmap.PAGESIZE
        self._map.madvise(mmap.MADV_DONTNEED, start, offset + nbytes - start)

    @override
    def close(self) -> None:
        if self._shared:
            return  # views live on; the map is unmapped when the last one is collected
        # BufferError: a caller still holds a view; the map is freed when the last one dies.
        with contextlib.suppress(BufferError):
            self._map.close()


@final
class TorchPickleFile(WeightFile):
    """A ``torch.save`` file, loaded with ``weights_only=True`` (no arbitrary code)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            try:
                data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as ex:
                if "mmap" not in str(ex):
                    raise
                # Legacy (non-zip) pickles cannot be memory-mapped.
                data = torch.load(path, map_location="cpu", weights_only=True)
        except OSError as ex:
            raise CheckpointError(path, f"cannot read the file ({ex.strerror})") from ex
        except Exception as ex:  # torch raises UnpicklingError or RuntimeError here
            raise CheckpointError(
                path,
                "it is not a plain tensor checkpoint; torch pickles are only loaded with "
                "weights_only=True, which refuses arbitrary Python objects. Convert it to "
                f"safetensors with a trusted tool. ({type(ex).__name__}: {str(ex)[:200]})",
            ) from ex
        if isinstance(data, Mapping) and "model" in data and isinstance(data["model"], Mapping):
            data = data["model"]
        if not isinstance(data, Mapping) or not all(isinstance(v, Tensor) for v in data.values()):
            raise CheckpointError(path, "the pickle does not hold a {name: tensor} state dict")
        self._tensors: dict[str, Tensor] = dict(data)

    @override
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {key: tuple(t.shape) for key, t in self._tensors.items()}

    @override
    def read(self, key: str) -> Tensor:
        return self._tensors[key]

    @override
    def close(self) -> None:
        self._tensors.clear()


def open_weight_file(path: Path) -> WeightFile:
    """Open a ``.safetensors`` file or a torch pickle (``.pt``, ``.bin``, ``.pth``)."""
    if path.suffix == ".safetensors":
        return SafetensorsFile(path)
    if path.suffix in (".pt", ".pth", ".bin", ".ckpt"):
        return TorchPickleFile(path)
    raise CheckpointError(
        path, "unknown weights format; expected .safetensors, or .pt/.pth/.bin (torch.save)"
    )


def save_safetensors(
    tensors: Iterable[tuple[str, Tensor]], path: Path, *, metadata: Mapping[str, str] | None = None
) -> str:
    """Write ``tensors`` to ``path`` as safetensors, one tensor at a time, atomically;
    return the file's sha256 (hex), computed while writing.

    Streaming avoids building the whole file in memory as ``safetensors.torch.save_file``
    does; the file appears under its name only once complete. When the directory has a
    ``checksums.sha256``, the file's entry in it is updated (dropped before the file is
    replaced, re-added after), so the record never names stale bytes.
    """
    items = [(key, t.detach()) for key, t in tensors]
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    offset = 0
    for key, tensor in items:
        if tensor.dtype not in _DTYPE_NAMES:
            raise CheckpointError(path, f"tensor '{key}' has unsupported dtype {tensor.dtype}")
        nbytes = tensor.numel() * tensor.element_size()
        header[key] = {
            "dtype": _DTYPE_NAMES[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # 8-byte alignment of the data section
    tmp = path.with_name(f".{path.name}.tmp")
    digest = hashlib.sha256()
    with open(tmp, "wb") as fp:
        for chunk in (struct.pack("<Q", len(encoded)), encoded):
            fp.write(chunk)
            digest.update(chunk)
        for _, tensor in items:
            cpu = tensor.to("cpu").contiguous()
            if cpu.numel():
                data = cpu.reshape(-1).view(torch.uint8).numpy().data
                fp.write(data)
                digest.update(data)
        fp.flush()
        os.fsync(fp.fileno())
    checksums = read_checksums(path.parent)
    if checksums is not None:
        checksums.pop(path.name, None)
        write_checksums(path.parent, checksums)
    os.replace(tmp, path)
    if checksums is not None:
        write_checksums(path.parent, {**checksums, path.name: digest.hexdigest()})
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(4 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_checksums(directory: Path, digests: Mapping[str, str]) -> Path:
    """Write ``directory/checksums.sha256`` (atomically) for the files in ``digests``."""
    path = directory / CHECKSUMS_NAME
    tmp = directory / f".{CHECKSUMS_NAME}.tmp"
    body = "".join(f"{digest}  {name}\n" for name, digest in sorted(digests.items()))
    with open(tmp, "w", encoding="utf-8") as fp:
        fp.write(body)
        fp.flush()
        os.fsync(fp.fileno())
    os.replace(tmp, path)
    return path


def remove_checksums(directory: Path) -> None:
    """Delete ``checksums.sha256`` before the files it lists are rewritten; until the new
    one is written the directory loads unverified rather than as corrupt."""
    with contextlib.suppress(FileNotFoundError):
        (directory / CHECKSUMS_NAME).unlink()


def read_checksums(directory: Path) -> dict[str, str] | None:
    """``{file name: sha256}`` from ``directory/checksums.sha256``, or None without one."""
    path = directory / CHECKSUMS_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as ex:
        raise CheckpointError(path, f"the checksum file is unreadable ({ex})") from ex
    digests: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        name = name.removeprefix("*")
        if not sep or not name or len(digest) != 64:
            raise CheckpointError(path, f"line {number} is not '<sha256>  <file name>'")
        digests[name] = digest.lower()
    return digests


def verify_weights_file(path: Path) -> None:
    """Check ``path`` against the ``checksums.sha256`` beside it (if there is one).

    Raises :class:`CheckpointError` naming the file when it is corrupt (sha256 mismatch).
    Without a checksum file (model directories written before seqkit recorded checksums,
    or by other tools) nothing is checked; a file the checksum file does not list (put
    beside a model.yaml by hand) loads unverified, with a warning.

    The first load in a process hashes the whole file (which also brings it into the page
    cache the memory map then reads); a file verified once is not hashed again while its
    inode, size, mtime and ctime stay the same.
    """
    checksums = read_checksums(path.parent)
    if checksums is None:
        return
    expected = checksums.get(path.name)
    if expected is None:
        log.warning(
            "%s is not listed in %s (it was not written with the model); loading it "
            "without verification.",
            path,
            path.parent / CHECKSUMS_NAME,
        )
        return
    try:
        stat = path.stat()
    except OSError as ex:
        raise CheckpointError(path, f"cannot read the file ({ex.strerror})") from ex
    stamp = (
        str(path.resolve()),
        stat.st_dev,
        stat.st_ino,
        stat.st_size,
        stat.st_mtime_ns,
        stat.st_ctime_ns,
    )
    if stamp in _VERIFIED:
        return
    actual = sha256_file(path)
    if actual != expected:
        raise CheckpointError(
            path,
            f"the file is corrupt: its sha256 is {actual}, but {CHECKSUMS_NAME} records "
            f"{expected}. Its bytes changed after it was written (disk or copy error); "
            "re-export or re-download it",
        )
    _VERIFIED.add(stamp)
