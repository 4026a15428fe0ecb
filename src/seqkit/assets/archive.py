"""Safe extraction of ``.tar``, ``.tar.gz``/``.tgz`` and ``.zip`` archives.

Every member must land inside the target: absolute names, ``..`` components, and links
pointing outside are refused before anything is written (RELIABILITY.md #4). So are
decompression bombs (members adding up to far more than the archive) and archives that
do not fit on the disk.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Final, Literal

from seqkit.assets.errors import AssetArchiveError

ARCHIVE_SUFFIXES: Final = (".tar", ".tar.gz", ".tgz", ".zip")

MAX_EXPANSION_ENV: Final = "SEQKIT_MAX_ARCHIVE_EXPANSION"
"""Environment variable overriding :data:`DEFAULT_MAX_EXPANSION` (``0``: no limit)."""

DEFAULT_MAX_EXPANSION: Final = 200.0
"""Largest accepted ratio of extracted bytes to archive bytes. Weights and text expand
a few times at most; a bomb expands a thousandfold."""

EXPANSION_CHECKED_ABOVE: Final = 16 * 1024 * 1024
"""Archives extracting to less than this are not checked for expansion."""


def is_archive(name: str) -> bool:
    """Whether ``name`` ends with a suffix seqkit extracts."""
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _check_name(archive: Path, member: str, target: Path) -> Path:
    pure = PurePosixPath(member)
    drive = bool(pure.parts) and pure.parts[0].endswith(":")
    if pure.is_absolute() or member.startswith(("/", "\\")) or drive:
        raise AssetArchiveError(
            f"{archive}: member {member!r} has an absolute path; refusing to extract it"
        )
    if ".." in pure.parts:
        raise AssetArchiveError(
            f"{archive}: member {member!r} contains '..'; refusing to extract outside {target}"
        )
    destination = (target / pure).resolve()
    if not destination.is_relative_to(target.resolve()):
        raise AssetArchiveError(f"{archive}: member {member!r} would land outside {target}")
    return destination


def _check_tar(archive: Path, tar: tarfile.TarFile, target: Path) -> None:
    root = target.resolve()
    for member in tar.getmembers():
        destination = _check_name(archive, member.name, target)
        if member.issym() or member.islnk():
            link = PurePosixPath(member.linkname)
            if link.is_absolute():
                raise AssetArchiveError(
                    f"{archive}: link {member.name!r} points to the absolute path "
                    f"{member.linkname!r}; refusing to extract it"
                )
            # Symlinks are relative to the link's folder, hard links to the archive root.
            start = destination.parent if member.issym() else root
            if not (start / link).resolve().is_relative_to(root):
                raise AssetArchiveError(
                    f"{archive}: link {member.name!r} -> {member.linkname!r} escapes {target}; "
                    "refusing to extract it"
                )
        elif not (member.isfile() or member.isdir()):
            raise AssetArchiveError(
                f"{archive}: member {member.name!r} is a device or FIFO; refusing to extract it"
            )


def _max_expansion() -> float | None:
    raw = os.environ.get(MAX_EXPANSION_ENV)
    if raw is None:
        return DEFAULT_MAX_EXPANSION
    try:
        value = float(raw)
    except ValueError:
        raise AssetArchiveError(
            f"{MAX_EXPANSION_ENV}={raw!r} is not a number; set a ratio such as 1000, or 0 "
            "for no limit"
        ) from None
    return value if value > 0 else None


def _check_size(archive: Path, total: int, target: Path, max_expansion: float | None) -> None:
    size = max(archive.stat().st_size, 1)
    if max_expansion is not None and total > max(EXPANSION_CHECKED_ABOVE, size * max_expansion):
        raise AssetArchiveError(
            f"{archive}: its members add up to {total:,} bytes, {total / size:,.0f}x the "
            f"archive's {size:,}; refusing a likely decompression bomb. If the archive is "
            f"trusted, raise the limit with {MAX_EXPANSION_ENV} (now {max_expansion:g}; 0 "
            "turns it off)"
        )
    free = shutil.disk_usage(target).free
    if total > free:
        raise AssetArchiveError(
            f"{archive}: extracting needs {total:,} bytes but {target} has {free:,} free; "
            "free some space or point SEQKIT_CACHE_DIR elsewhere"
        )


def extract_archive(
    archive: Path, target: Path, *, max_expansion: float | Literal["env"] | None = "env"
) -> None:
    """Extract ``archive`` into the existing directory ``target``, refusing unsafe members.

    ``max_expansion`` caps extracted bytes / archive bytes (``None``: no cap; default: the
    ``SEQKIT_MAX_ARCHIVE_EXPANSION`` environment variable, else 200).
    """
    limit = _max_expansion() if max_expansion == "env" else max_expansion
    name = archive.name.lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                infos = zf.infolist()
                for info in infos:
                    _check_name(archive, info.filename, target)
                    if stat.S_ISLNK(info.external_attr >> 16):
                        raise AssetArchiveError(
                            f"{archive}: member {info.filename!r} is a symlink; refusing it"
                        )
                _check_size(archive, sum(i.file_size for i in infos), target, limit)
                zf.extractall(target)
        else:
            with tarfile.open(archive) as tar:
                _check_tar(archive, tar, target)
                _check_size(archive, sum(m.size for m in tar.getmembers()), target, limit)
                # The "data" filter re-checks all of the above and strips special modes.
                tar.extractall(target, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile) as ex:
        raise AssetArchiveError(f"{archive}: cannot extract the archive: {ex}") from ex
