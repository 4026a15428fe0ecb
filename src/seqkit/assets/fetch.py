"""HTTP(S) fetching into a partial file with resume (HTTP ``Range``), retries and progress."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from tqdm import tqdm

from seqkit.assets.errors import AssetDownloadError

log = logging.getLogger(__name__)

_CHUNK: Final = 1 << 20
_CONTENT_RANGE: Final = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


@dataclass(frozen=True, kw_only=True)
class FetchOptions:
    """How persistent a download is."""

    timeout: float = 30.0
    """Seconds to wait for the server on connect and on each read."""

    max_attempts: int = 4
    """Tries (the first plus retries) before giving up; each retry resumes the partial file."""

    retry_delay: float = 1.0
    """Seconds before the first retry; doubled for each further one."""

    progress: bool = True
    """Show a tqdm progress bar (tqdm hides it when stderr is not a terminal)."""


class _Truncated(Exception):
    """The server closed the connection before sending every byte it announced."""


def _user_agent() -> str:
    from seqkit._version import __version__

    return f"seqkit/{__version__}"


def _fetch_once(url: str, part: Path, options: FetchOptions, label: str) -> str:
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": _user_agent(), "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with urlopen(Request(url, headers=headers), timeout=options.timeout) as response:
        mode = "wb"
        if offset and response.status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if match is not None and int(match.group(1)) == offset:
                mode = "ab"
        if mode == "wb":
            offset = 0  # the server ignored the range: start over
        # Hash while writing so a verified download reads the bytes once, not twice.
        digest = hashlib.sha256()
        if offset:
            _hash_prefix(part, offset, digest)
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None and length.isdigit() else None
        received = offset
        with (
            part.open(mode) as out,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=label,
                disable=None if options.progress else True,
                leave=False,
            ) as bar,
        ):
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except http.client.IncompleteRead as ex:
                    out.write(ex.partial)
                    digest.update(ex.partial)
                    done = received + len(ex.partial)
                    raise _Truncated(f"connection closed after {done} bytes") from ex
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        if total is not None and received != total:
            raise _Truncated(f"received {received} of {total} bytes")
    return digest.hexdigest()


def _hash_prefix(path: Path, size: int, digest: hashlib._Hash) -> None:
    with path.open("rb") as f:
        remaining = size
        while remaining:
            block = f.read(min(_CHUNK, remaining))
            if not block:
                raise _Truncated(f"{path} shrank while resuming")
            digest.update(block)
            remaining -= len(block)


def fetch(url: str, part: Path, options: FetchOptions, *, label: str) -> str:
    """Download ``url`` into ``part``, resuming what ``part`` already holds; return its sha256.

    Retries transient failures (connection errors, truncated bodies, 5xx) up to
    ``options.max_attempts`` times; a 4xx other than 408/429 fails at once.
    """
    last_error: str = "no attempt made"
    delay = options.retry_delay
    for attempt in range(1, options.max_attempts + 1):
        try:
            return _fetch_once(url, part, options, label)
        except HTTPError as ex:
            if ex.code == 416:  # the partial file is not a prefix the server accepts
                part.unlink(missing_ok=True)
            elif 400 <= ex.code < 500 and ex.code not in (408, 429):
                raise AssetDownloadError(
                    f"{url}: the server answered HTTP {ex.code} {ex.reason}; check the URL in "
                    "the card"
                ) from ex
            last_error = f"HTTP {ex.code} {ex.reason}"
        except (_Truncated, URLError, http.client.HTTPException, OSError) as ex:
            last_error = str(getattr(ex, "reason", None) or ex)
        if attempt < options.max_attempts:
            log.warning("Download of %s failed (%s); retry %d.", url, last_error, attempt)
            time.sleep(delay)
            delay *= 2
    raise AssetDownloadError(
        f"{url}: download failed after {options.max_attempts} attempts ({last_error}); the "
        f"partial file {part} is kept and the next attempt resumes it"
    )


def sha256_of(path: Path) -> str:
    """The hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()
