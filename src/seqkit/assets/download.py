"""``AssetDownloadManager``: turns a card's path or URI field into a verified local path."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final, final
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from typing_extensions import override

from seqkit.assets.archive import extract_archive, is_archive
from seqkit.assets.card import AssetCard, AssetCardField
from seqkit.assets.errors import (
    AssetChecksumError,
    AssetOfflineError,
    AssetPathError,
)
from seqkit.assets.fetch import FetchOptions, fetch, sha256_of

log = logging.getLogger(__name__)

_SAFE_NAME: Final = re.compile(r"[^A-Za-z0-9._-]+")
EXTRACTED_DIR: Final = "extracted"
EXTRACTED_STAMP: Final = "extracted.stamp"
"""Beside ``extracted/``: a digest of the extracted tree's names, sizes and mtimes."""


class AssetDownloadManager(ABC):
    """Resolves path and URI fields of cards to local files."""

    @abstractmethod
    def resolve_path(self, card: AssetCard, field_name: str, *, verify: bool = False) -> Path:
        """The local, verified path of the path/URI field ``field_name`` of ``card``.

        Relative paths resolve against the file that wrote the field; ``http(s)://`` URIs
        are downloaded into the cache (archives extracted); ``<field_name>_sha256`` is
        checked when the card has it: a cached file whose size or mtime changed since it
        was verified is hashed again. ``verify`` hashes every file in full whatever its
        stamp, and extracts cached archives again.
        """


def _safe_file_name(url_path: str) -> str:
    # Only the card's URL names the file; server headers (Content-Disposition) never do.
    name = _SAFE_NAME.sub("_", Path(unquote(url_path)).name).lstrip(".")
    return name[:128] or "download"


@final
class StandardAssetDownloadManager(AssetDownloadManager):
    """Downloads into ``cache_dir/<sha256(url)[:20]>/<file name>``; never writes elsewhere.

    A download is written to ``<name>.part`` and renamed only when complete and, if the card
    gives ``<field>_sha256``, only when it matches. An exclusive ``flock`` on the entry makes
    concurrent processes download once; the others wait and reuse the file.
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        offline: bool = False,
        fetch_options: FetchOptions | None = None,
    ) -> None:
        self._cache_dir = Path(cache_dir)
        self._offline = offline
        self._options = fetch_options or FetchOptions()
        # (path, size, mtime_ns) -> sha256, so a big local checkpoint is hashed once.
        self._hashes: dict[tuple[str, int, int], str] = {}
        self._hash_lock = threading.Lock()

    @property
    def cache_dir(self) -> Path:
        """The directory every download goes to."""
        return self._cache_dir

    @property
    def offline(self) -> bool:
        """Whether only cached files may be used (``SEQKIT_OFFLINE=1``)."""
        return self._offline

    @override
    def resolve_path(self, card: AssetCard, field_name: str, *, verify: bool = False) -> Path:
        field = card.field(field_name)
        uri = field.as_uri()
        sha_field = card.field(f"{field_name}_sha256")
        expected = sha_field.as_sha256() if sha_field.exists() else None
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            return self._download(field, uri, expected, verify=verify)
        if scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise field.error(f"file URIs must be local, got host {parts.netloc!r}")
            path = self._local(field, url2pathname(parts.path))
        else:
            path = self._local(field, uri)
        if expected is not None:
            if path.is_dir():
                raise AssetChecksumError(
                    f"{field.origin.where()}: card '{field.card.name}', field '{field.name}': "
                    f"{path} is a directory, and a directory cannot carry "
                    f"'{field.name}_sha256' (its sha256 would verify nothing); point the field "
                    "at a single file or a .tar.gz archive of the directory, or remove "
                    f"'{field.name}_sha256'"
                )
            if not path.is_file():
                raise AssetChecksumError(
                    f"{field.origin.where()}: card '{field.card.name}', field '{field.name}': "
                    f"{path} is not a regular file, so its '{field.name}_sha256' cannot be "
                    "verified; point the field at a regular file"
                )
            self._verify_local(field, path, expected, full=verify)
        return path

    def _local(self, field: AssetCardField, value: str) -> Path:
        origin = field.origin
        raw = Path(value)
        if raw.is_absolute():
            path = raw.resolve()
        else:
            path = (origin.file.parent / raw).resolve()
            if not path.is_relative_to(origin.root):
                raise AssetPathError(
                    f"{origin.where()}: card '{field.card.name}', field '{field.name}': the "
                    f"relative path {value!r} resolves to {path}, outside {origin.root}; keep "
                    "card paths inside the card's directory or use an absolute path"
                )
        if not path.exists():
            raise AssetPathError(
                f"{origin.where()}: card '{field.card.name}', field '{field.name}': {path} "
                "does not exist; fix the path in the card or create the file"
            )
        return path

    def _hash(self, path: Path, *, full: bool = False) -> str:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with self._hash_lock:
            known = None if full else self._hashes.get(key)
        if known is None:
            known = sha256_of(path)
            with self._hash_lock:
                self._hashes[key] = known
        return known

    def _verify_local(
        self, field: AssetCardField, path: Path, expected: str, *, full: bool = False
    ) -> None:
        actual = self._hash(path, full=full)
        if actual != expected:
            raise AssetChecksumError(
                f"{field.origin.where()}: card '{field.card.name}', field '{field.name}': "
                f"{path} has sha256 {actual} but the card expects {expected}; the file is "
                f"corrupt or the card's '{field.name}_sha256' is stale"
            )

    def _entry(self, uri: str) -> Path:
        key = hashlib.sha256(uri.encode("utf-8")).hexdigest()[:20]
        entry = (self._cache_dir / key).resolve()
        if not entry.is_relative_to(self._cache_dir.resolve()):
            raise AssetPathError(f"cache entry {entry} escapes the cache {self._cache_dir}")
        return entry

    def _download(
        self, field: AssetCardField, uri: str, expected: str | None, *, verify: bool
    ) -> Path:
        entry = self._entry(uri)
        final_path = entry / _safe_file_name(urlsplit(uri).path)
        is_archive_entry = is_archive(final_path.name)
        result = entry / EXTRACTED_DIR if is_archive_entry else final_path
        status = self._cached_file_ok(final_path, expected, full=verify)
        if status and not (is_archive_entry and (verify or not _extracted_ok(result))):
            return result
        if self._offline and status is not True:
            if status is False:
                raise AssetChecksumError(
                    f"{field.origin.where()}: card '{field.card.name}', field '{field.name}': "
                    f"the cached {final_path} no longer has the sha256 {expected} the card "
                    "expects (it was altered after it was verified), and SEQKIT_OFFLINE=1 "
                    "forbids downloading it again; unset SEQKIT_OFFLINE, or delete the file "
                    "and copy a good cache"
                )
            raise AssetOfflineError(
                f"{field.origin.where()}: card '{field.card.name}', field '{field.name}': "
                f"{uri} is not in the cache ({final_path}) and SEQKIT_OFFLINE=1 forbids "
                "downloading; unset SEQKIT_OFFLINE or download it on a machine with network "
                f"access ('seqkit assets download {field.card.name}') and copy the cache"
            )
        entry.mkdir(parents=True, exist_ok=True)
        with _file_lock(entry / ".lock"):
            # Another process may have finished while this one waited for the lock. A file
            # the full hash above refused is hashed in full again, whatever its stamp says.
            status = self._cached_file_ok(final_path, expected, full=status is False)
            if status is not True:
                if status is False:
                    log.warning(
                        "%s no longer matches the sha256 of card '%s' field '%s' (altered "
                        "after it was verified); downloading it again.",
                        final_path,
                        field.card.name,
                        field.name,
                    )
                    final_path.unlink()
                self._fetch_verified(field, uri, final_path, expected)
            if is_archive_entry and (verify or status is not True or not _extracted_ok(result)):
                self._extract(final_path, result)
        return result

    def _cached_file_ok(self, final_path: Path, expected: str | None, *, full: bool) -> bool | None:
        """``None``: not cached; ``True``: it has the sha256 the card expects (or the card
        expects none); ``False``: it was altered after it was verified.

        The ``.sha256`` marker holds the digest with the size and mtime_ns the file had when
        it was hashed: a file whose stamp changed is hashed again (``full`` always hashes).
        """
        if not final_path.is_file():
            return None
        if expected is None:
            return True
        marker = _marker_of(final_path)
        stat = final_path.stat()
        stamp = (expected, stat.st_size, stat.st_mtime_ns)
        if not full and _read_marker(marker) == stamp:
            return True
        actual = sha256_of(final_path)
        if actual != expected:
            return False
        _write_marker(marker, actual, stat)
        return True

    def _fetch_verified(
        self, field: AssetCardField, uri: str, final_path: Path, expected: str | None
    ) -> None:
        part = final_path.with_name(final_path.name + ".part")
        label = f"{field.card.name}:{field.name}"
        resumed = part.exists()
        actual = fetch(uri, part, self._options, label=label)
        if expected is not None and actual != expected and resumed:
            # The leftover may predate a change of the file on the server: start over once.
            part.unlink()
            actual = fetch(uri, part, self._options, label=label)
        if expected is not None and actual != expected:
            part.unlink(missing_ok=True)
            raise AssetChecksumError(
                f"{field.origin.where()}: card '{field.card.name}', field '{field.name}': "
                f"{uri} downloaded with sha256 {actual} but the card expects {expected}; the "
                "download was discarded. Fix the card's checksum or the server's file"
            )
        os.replace(part, final_path)
        _write_marker(_marker_of(final_path), actual, final_path.stat())
        _fsync_dir(final_path.parent)

    @staticmethod
    def _extract(archive: Path, target: Path) -> None:
        if target.exists():
            shutil.rmtree(target)
        stamp = target.parent / EXTRACTED_STAMP
        stamp.unlink(missing_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=target.parent))
        try:
            extract_archive(archive, staging)
            os.replace(staging, target)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
        _atomic_write(stamp, _tree_stamp(target) + "\n")
        _fsync_dir(target.parent)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _marker_of(final_path: Path) -> Path:
    return final_path.with_name(final_path.name + ".sha256")


def _read_marker(marker: Path) -> tuple[str, int, int] | None:
    """``(sha256, size, mtime_ns)`` from a marker, or ``None`` (missing, or an old marker
    without a stamp, which makes the caller hash the file again)."""
    try:
        fields = marker.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return None
    if len(fields) != 3 or not fields[1].isdigit() or not fields[2].isdigit():
        return None
    return fields[0], int(fields[1]), int(fields[2])


def _write_marker(marker: Path, digest: str, stat: os.stat_result) -> None:
    _atomic_write(marker, f"{digest} {stat.st_size} {stat.st_mtime_ns}\n")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="ascii")
    os.replace(tmp, path)


def _tree_stamp(root: Path) -> str:
    """A digest of every entry's relative path, type, size, mtime_ns and link target."""
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):  # does not descend into linked folders
        dirs.sort()
        for name in sorted([*dirs, *files]):
            path = os.path.join(folder, name)
            st = os.lstat(path)
            link = os.readlink(path) if os.path.islink(path) else ""
            rel = os.path.relpath(path, root)
            digest.update(
                f"{rel}\0{st.st_mode}\0{st.st_size}\0{st.st_mtime_ns}\0{link}\0".encode(
                    "utf-8", "surrogateescape"
                )
            )
    return digest.hexdigest()


def _extracted_ok(result: Path) -> bool:
    """Whether ``extracted/`` is as it was extracted (names, sizes and mtimes unchanged)."""
    if not result.is_dir() or result.is_symlink():
        return False
    try:
        recorded = (result.parent / EXTRACTED_STAMP).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return False
    return recorded == _tree_stamp(result)
