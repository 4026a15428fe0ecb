"""Safe extraction of ``.tar``, ``.tar.gz``/``.tgz`` and ``.zip`` archives.

Every member must land inside the target: absolute names, ``..`` components, members
below a link member, and links pointing outside are refused before anything is written
(RELIABILITY.md #4). So are decompression bombs (members adding up to far more than the
archive) and archives that do not fit on the disk.

Tar members are written by this module, not ``tarfile.extractall``: folders are created
and opened one step at a time with ``O_NOFOLLOW`` relative to the previous one, files are
created with ``O_EXCL | O_NOFOLLOW`` inside them, and symlinks are created only after every
file, then each is resolved strictly on the real filesystem and must stay inside the
target. Nothing is ever written through a link, whatever the archive holds.
"""

from __future__ import annotations

import contextlib
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
    links: dict[tuple[str, ...], str] = {}
    for member in tar.getmembers():
        destination = _check_name(archive, member.name, target)
        parts = PurePosixPath(member.name).parts
        # Extraction never goes through a link: a member below a link member of the same
        # archive (the CVE-2025-4517 pattern, `escape -> ...` then `escape/FILE`) is refused
        # by name, before anything is written.
        for depth in range(1, len(parts)):
            through = links.get(parts[:depth])
            if through is not None:
                raise AssetArchiveError(
                    f"{archive}: member {member.name!r} would be written through the link "
                    f"{through!r}; seqkit never extracts through links, refusing the archive"
                )
        if member.issym() or member.islnk():
            link = PurePosixPath(member.linkname)
            if link.is_absolute() or member.linkname.startswith(("/", "\\")):
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
            if member.islnk() and (not link.parts or ".." in link.parts):
                raise AssetArchiveError(
                    f"{archive}: hard link {member.name!r} -> {member.linkname!r} must name "
                    "a file of the archive without '..'; refusing to extract it"
                )
            links[parts] = member.name
        elif not (member.isfile() or member.isdir()):
            raise AssetArchiveError(
                f"{archive}: member {member.name!r} is a device or FIFO; refusing to extract it"
            )


_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_dir(archive: Path, root_fd: int, parts: tuple[str, ...], member: str) -> int:
    """An fd of the directory ``parts`` below ``root_fd``, creating missing ones.

    Every step is opened with ``O_NOFOLLOW`` relative to the previous one, so a symlink
    anywhere on the way is an error, never followed.
    """
    fd = os.dup(root_fd)
    try:
        for part in parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as ex:
                raise AssetArchiveError(
                    f"{archive}: member {member!r} needs {part!r} to be a folder, but it is a "
                    f"file or a link ({ex.strerror}); refusing to extract through it"
                ) from ex
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _remove_file(archive: Path, dir_fd: int, name: str, member: str) -> None:
    """Make room for a member named like an earlier one (a later tar member wins)."""
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise AssetArchiveError(
            f"{archive}: member {member!r} has the name of a folder of the archive; "
            "refusing to extract it"
        )
    os.unlink(name, dir_fd=dir_fd)


def _write_file(archive: Path, tar: tarfile.TarFile, member: tarfile.TarInfo, root_fd: int) -> None:
    parts = PurePosixPath(member.name).parts
    parent = _open_dir(archive, root_fd, parts[:-1], member.name)
    try:
        _remove_file(archive, parent, parts[-1], member.name)
        mode = 0o755 if member.mode & 0o111 else 0o644
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(parts[-1], flags, mode, dir_fd=parent)
        with os.fdopen(fd, "wb") as out:
            source = tar.extractfile(member)
            if source is not None:
                with source:
                    shutil.copyfileobj(source, out, 1 << 20)
            out.flush()
            os.utime(out.fileno(), (member.mtime, member.mtime))
    finally:
        os.close(parent)


def _write_hardlink(archive: Path, member: tarfile.TarInfo, root_fd: int) -> None:
    parts = PurePosixPath(member.name).parts
    source = PurePosixPath(member.linkname).parts
    source_dir = _open_dir(archive, root_fd, source[:-1], member.name)
    try:
        try:
            is_file = stat.S_ISREG(os.lstat(source[-1], dir_fd=source_dir).st_mode)
        except FileNotFoundError:
            is_file = False
        if not is_file:
            raise AssetArchiveError(
                f"{archive}: hard link {member.name!r} -> {member.linkname!r} does not name a "
                "regular file extracted before it; refusing to extract it"
            )
        parent = _open_dir(archive, root_fd, parts[:-1], member.name)
        try:
            _remove_file(archive, parent, parts[-1], member.name)
            os.link(
                source[-1],
                parts[-1],
                src_dir_fd=source_dir,
                dst_dir_fd=parent,
                follow_symlinks=False,
            )
        finally:
            os.close(parent)
    finally:
        os.close(source_dir)


def _write_symlink(archive: Path, member: tarfile.TarInfo, root_fd: int) -> None:
    parts = PurePosixPath(member.name).parts
    parent = _open_dir(archive, root_fd, parts[:-1], member.name)
    try:
        os.symlink(member.linkname, parts[-1], dir_fd=parent)
    except FileExistsError:
        raise AssetArchiveError(
            f"{archive}: link {member.name!r} has the name of another member; refusing it"
        ) from None
    finally:
        os.close(parent)


def _check_symlinks_inside(archive: Path, target: Path, links: list[tarfile.TarInfo]) -> None:
    """Every symlink, now that all exist, must resolve (strictly) to a path inside ``target``.

    Checked on the real filesystem once nothing else will be written, so neither a later
    link nor a chain longer than PATH_MAX (where a lenient ``realpath`` falls back to
    reading names as plain folders) can change the answer.
    """
    root = os.path.realpath(target, strict=True)
    for member in links:
        where = os.path.join(target, *PurePosixPath(member.name).parts)
        try:
            resolved = os.path.realpath(where, strict=True)
        except OSError as ex:
            raise AssetArchiveError(
                f"{archive}: link {member.name!r} -> {member.linkname!r} does not resolve to a "
                f"file of the archive ({ex.strerror or ex}); refusing the archive"
            ) from ex
        if os.path.commonpath([root, resolved]) != root:
            raise AssetArchiveError(
                f"{archive}: link {member.name!r} -> {member.linkname!r} resolves to "
                f"{resolved}, outside {target}; refusing the archive"
            )


def _extract_tar(archive: Path, tar: tarfile.TarFile, target: Path) -> None:
    """Write the members with ``*at`` calls that never follow a link; links come last."""
    root_fd = os.open(target, _DIR_FLAGS)
    symlinks: list[tarfile.TarInfo] = []
    try:
        for member in tar.getmembers():
            parts = PurePosixPath(member.name).parts
            if not parts:  # the archive's root folder ("./")
                continue
            if member.isdir():
                os.close(_open_dir(archive, root_fd, parts, member.name))
            elif member.isfile():
                _write_file(archive, tar, member, root_fd)
            elif member.islnk():
                _write_hardlink(archive, member, root_fd)
            elif member.issym():
                symlinks.append(member)
        for member in symlinks:
            _write_symlink(archive, member, root_fd)
    finally:
        os.close(root_fd)
    _check_symlinks_inside(archive, target, symlinks)


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
                # Not tar.extractall: its "data" filter resolves links against the
                # half-extracted tree and is bypassed by PATH_MAX-long chains (CVE-2025-4517).
                _extract_tar(archive, tar, target)
    except (tarfile.TarError, zipfile.BadZipFile) as ex:
        raise AssetArchiveError(f"{archive}: cannot extract the archive: {ex}") from ex
