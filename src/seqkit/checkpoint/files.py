"""Durable file writes: every checkpoint file is fsynced before the manifest names it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor


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


def save_tensors(tensors: Mapping[str, Tensor], path: Path) -> None:
    """Write a flat tensor mapping as safetensors.

    Tied weights share storage, which safetensors refuses; the second name gets a copy and
    loading writes the same values into the shared parameter twice.
    """
    seen: set[tuple[int, int]] = set()
    flat: dict[str, Tensor] = {}
    for name, tensor in tensors.items():
        t = tensor.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        if key in seen or not t.is_contiguous():
            t = t.contiguous().clone()
        else:
            seen.add(key)
        flat[name] = t
    save_file(flat, str(path))


def load_tensors(path: Path) -> dict[str, Tensor]:
    """Read a safetensors file onto the CPU (never executes code)."""
    return load_file(str(path), device="cpu")


def save_object(obj: object, path: Path) -> None:
    """``torch.save`` of tensors and plain Python values (loadable with ``weights_only=True``)."""
    torch.save(obj, path)


def load_object(path: Path) -> object:
    """``torch.load`` with ``weights_only=True``: never unpickles arbitrary objects."""
    return torch.load(path, map_location="cpu", weights_only=True)
