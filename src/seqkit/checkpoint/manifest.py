"""The checkpoint manifest: written last, it is what makes a step directory complete."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import torch

from seqkit.checkpoint.errors import CorruptCheckpointError
from seqkit.checkpoint.files import sha256_file, write_bytes

MANIFEST_NAME: Final = "manifest.json"
MANIFEST_FORMAT: Final = "seqkit.checkpoint"
MANIFEST_VERSION: Final = 1


@dataclass(kw_only=True, frozen=True)
class Manifest:
    """What a committed step directory holds and who wrote it."""

    step: int
    """Optimizer steps completed when the checkpoint was taken."""

    world_size: int
    """Number of processes that wrote it."""

    dp_size: int
    """Data-parallel size (resuming with another size needs a topology-independent reader)."""

    files: dict[str, dict[str, int | str]]
    """``{relative path: {"size": bytes, "sha256": hex}}`` for every file but the manifest."""

    score: float | None = None
    """The metric used by keep-best, if any (lower is better)."""

    seqkit_version: str = ""
    """Version of seqkit that wrote it."""

    torch_version: str = ""
    """Version of torch that wrote it."""


def _seqkit_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("seqkit")
    except PackageNotFoundError:
        return "unknown"


def write_manifest(
    directory: Path, *, step: int, world_size: int, dp_size: int, score: float | None
) -> Manifest:
    """Hash every file under ``directory`` and write ``manifest.json`` (fsynced)."""
    files: dict[str, dict[str, int | str]] = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        if rel == MANIFEST_NAME:
            continue
        files[rel] = {"size": path.stat().st_size, "sha256": sha256_file(path)}
    manifest = Manifest(
        step=step,
        world_size=world_size,
        dp_size=dp_size,
        files=files,
        score=score,
        seqkit_version=_seqkit_version(),
        torch_version=str(torch.__version__),
    )
    body = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, **manifest.__dict__}
    path = directory / MANIFEST_NAME
    write_bytes(path, json.dumps(body, indent=1, sort_keys=True).encode("utf-8"))
    return manifest


def read_manifest(directory: Path, *, verify: bool = True) -> Manifest:
    """Read ``manifest.json`` and (by default) check the size and sha256 of every file."""
    path = directory / MANIFEST_NAME
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as ex:
        raise CorruptCheckpointError(
            f"Checkpoint {directory} has no {MANIFEST_NAME}; it was not written by seqkit or "
            "was damaged after commit. Delete it to use the previous checkpoint.",
            path=directory,
        ) from ex
    except (OSError, json.JSONDecodeError) as ex:
        raise CorruptCheckpointError(
            f"Checkpoint manifest {path} is unreadable ({ex}).", path=directory
        ) from ex
    if body.get("format") != MANIFEST_FORMAT or body.get("version") != MANIFEST_VERSION:
        raise CorruptCheckpointError(
            f"Checkpoint manifest {path} has format {body.get('format')!r} version "
            f"{body.get('version')!r}; expected {MANIFEST_FORMAT!r} version {MANIFEST_VERSION}.",
            path=directory,
        )
    try:
        manifest = Manifest(
            step=int(body["step"]),
            world_size=int(body["world_size"]),
            dp_size=int(body["dp_size"]),
            files=dict(body["files"]),
            score=None if body.get("score") is None else float(body["score"]),
            seqkit_version=str(body.get("seqkit_version", "")),
            torch_version=str(body.get("torch_version", "")),
        )
    except (KeyError, TypeError, ValueError) as ex:
        raise CorruptCheckpointError(
            f"Checkpoint manifest {path} lacks or mistypes a field ({ex}).", path=directory
        ) from ex
    if not manifest.files:
        raise CorruptCheckpointError(
            f"Checkpoint {directory} is corrupt: its manifest {path} lists no files. Delete "
            "it to use the previous checkpoint.",
            path=directory,
        )
    if verify:
        _verify_files(directory, manifest)
    return manifest


def _verify_files(directory: Path, manifest: Manifest) -> None:
    for rel, entry in manifest.files.items():
        if not isinstance(entry, dict) or "size" not in entry or "sha256" not in entry:
            raise CorruptCheckpointError(
                f"Checkpoint manifest {directory / MANIFEST_NAME} has no size/sha256 for {rel}.",
                path=directory,
            )
        file = directory / rel
        if not file.is_file():
            raise CorruptCheckpointError(
                f"Checkpoint {directory} is missing {rel} listed in its manifest.", path=directory
            )
        size = file.stat().st_size
        if size != entry["size"]:
            raise CorruptCheckpointError(
                f"Checkpoint file {file} has {size} bytes, the manifest says {entry['size']}.",
                path=directory,
            )
        if sha256_file(file) != entry["sha256"]:
            raise CorruptCheckpointError(
                f"Checkpoint file {file} does not match the sha256 in its manifest.",
                path=directory,
            )
