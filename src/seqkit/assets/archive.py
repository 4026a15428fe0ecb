"""Safe extraction of ``.tar``, ``.tar.gz``/``.tgz`` and ``.zip`` archives.

Every member must land inside the target: absolute names, ``..`` components, and links
pointing outside are refused before anything is written (RELIABILITY.md #4).
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Final

from seqkit.assets.errors import AssetArchiveError

ARCHIVE_SUFFIXES: Final = (".tar", ".tar.gz", ".tgz", ".zip")


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


def extract_archive(archive: Path, target: Path) -> None:
    """Extract ``archive`` into the existing directory ``target``, refusing unsafe members."""
    name = archive.name.lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    _check_name(archive, info.filename, target)
                    if stat.S_ISLNK(info.external_attr >> 16):
                        raise AssetArchiveError(
                            f"{archive}: member {info.filename!r} is a symlink; refusing it"
                        )
                zf.extractall(target)
        else:
            with tarfile.open(archive) as tar:
                _check_tar(archive, tar, target)
                # The "data" filter re-checks all of the above and strips special modes.
                tar.extractall(target, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile) as ex:
        raise AssetArchiveError(f"{archive}: cannot extract the archive: {ex}") from ex
