"""``AssetDownloadManager``: turns a card's path or URI field into a verified local path."""

from __future__ import annotations

import fcntl
import hashlib
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

_SAFE_NAME: Final = re.compile(r"[^A-Za-z0-9._-]+")
EXTRACTED_DIR: Final = "extracted"


class AssetDownloadManager(ABC):
    """Resolves path and URI fields of cards to local files."""

    @abstractmethod
    def resolve_path(self, card: AssetCard, field_name: str) -> Path:
        """The local, verified path of the path/URI field ``field_name`` of ``card``.

        Relative paths resolve against the file that wrote the field; ``http(s)://`` URIs
        are downloaded into the cache (archives extracted); ``<field_name>_sha256`` is
        checked when the card has it.
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
    def resolve_path(self, card: AssetCard, field_name: str) -> Path:
        field = card.field(field_name)
        uri = field.as_uri()
        sha_field = card.field(f"{field_name}_sha256")
        expected = sha_field.as_sha256() if sha_field.exists() else None
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            return self._download(field, uri, expected)
        if scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise field.error(f"file URIs must be local, got host {parts.netloc!r}")
            path = self._local(field, url2pathname(parts.path))
        else:
            path = self._local(field, uri)
        if expected is not None and path.is_file():
            self._verify_local(field, path, expected)
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

    def _hash(self, path: Path) -> str:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with self._hash_lock:
            known = self._hashes.get(key)
        if known is None:
            known = sha256_of(path)
            with self._hash_lock:
                self._hashes[key] = known
        return known

    def _verify_local(self, field: AssetCardField, path: Path, expected: str) -> None:
        actual = self._hash(path)
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

    def _download(self, field: AssetCardField, uri: str, expected: str | None) -> Path:
        entry = self._entry(uri)
        final_path = entry / _safe_file_name(urlsplit(uri).path)
        result = entry / EXTRACTED_DIR if is_archive(final_path.name) else final_path
        if self._is_ready(final_path, result, expected):
            return result
        if self._offline:
            raise AssetOfflineError(
                f"{field.origin.where()}: card '{field.card.name}', field '{field.name}': "
                f"{uri} is not in the cache ({final_path}) and SEQKIT_OFFLINE=1 forbids "
                "downloading; unset SEQKIT_OFFLINE or download it on a machine with network "
                f"access ('seqkit assets download {field.card.name}') and copy the cache"
            )
        entry.mkdir(parents=True, exist_ok=True)
        with _file_lock(entry / ".lock"):
            # Another process may have finished while this one waited for the lock.
            if not self._is_ready(final_path, result, expected):
                self._fetch_verified(field, uri, final_path, expected)
                if result != final_path:
                    self._extract(final_path, result)
        return result

    def _is_ready(self, final_path: Path, result: Path, expected: str | None) -> bool:
        if not final_path.is_file() or not result.exists():
            return False
        if expected is None:
            return True
        marker = final_path.with_name(final_path.name + ".sha256")
        if marker.is_file() and marker.read_text().strip() == expected:
            return True
        return self._hash(final_path) == expected

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
        marker = final_path.with_name(final_path.name + ".sha256")
        marker_tmp = marker.with_name(marker.name + ".tmp")
        marker_tmp.write_text(actual + "\n")
        os.replace(marker_tmp, marker)
        _fsync_dir(final_path.parent)

    @staticmethod
    def _extract(archive: Path, target: Path) -> None:
        if target.exists():
            shutil.rmtree(target)
        staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=target.parent))
        try:
            extract_archive(archive, staging)
            os.replace(staging, target)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
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
