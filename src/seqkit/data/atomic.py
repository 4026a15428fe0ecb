"""A directory that appears complete or not at all (reliability contract, item 1).

Files are written under ``.<name>.partial-<pid>-<host>-<random>`` beside the final path
(unique per writer, even for two writers in one process), fsynced, and the directory is
renamed into place only when complete, then the parent is fsynced. A crash (even
``kill -9``) leaves at most a hidden partial directory, never a half-written dataset at
the final path; the next writer of the same path on the same host removes partials of
processes that no longer run (partials of other hosts are left alone: their writers may
be alive on a shared filesystem).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import final

from seqkit.data.errors import DataWriteError


def fsync_dir(path: Path) -> None:
    """Make the entries of ``path`` (new files, renames) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # some filesystems refuse fsync on directories
            os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and fsync it."""
    with path.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def write_json(path: Path, payload: object) -> None:
    """Write ``payload`` as indented UTF-8 JSON and fsync it."""
    write_file(path, (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode())


@final
class AtomicDirectory:
    """Builds a directory under a temporary name and renames it to ``final`` on :meth:`commit`.

    With ``overwrite`` an existing ``final`` is replaced only once the new one is
    complete; without it an existing ``final`` is an error raised before any work.
    """

    def __init__(self, final: Path, *, overwrite: bool = False) -> None:
        self.final = final
        self._overwrite = overwrite
        if final.exists() and not overwrite:
            raise DataWriteError(
                f"'{final}' already exists; remove it or pass overwrite (--overwrite)"
            )
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(final)
        self.temp = Path(tempfile.mkdtemp(prefix=_partial_prefix(final), dir=final.parent))
        """Where the files go until :meth:`commit` (created empty, unique to this writer)."""
        self._open = True

    def commit(self) -> None:
        """Rename the finished directory into place (after replacing an old one, if any).

        If the rename fails, an old ``final`` that was moved aside is put back.
        """
        self._check_open()
        fsync_dir(self.temp)
        if self.final.exists() and not self._overwrite:
            self.abort()
            raise DataWriteError(
                f"'{self.final}' appeared while this dataset was written; nothing was replaced. "
                "Remove it or pass overwrite (--overwrite)"
            )
        old: Path | None = None
        try:
            if self.final.exists():
                old = Path(
                    tempfile.mkdtemp(prefix=f".{self.final.name}.old-", dir=self.final.parent)
                )
                os.replace(self.final, old)
            os.replace(self.temp, self.final)
        except OSError as ex:
            if old is not None and not self.final.exists():
                with contextlib.suppress(OSError):
                    os.replace(old, self.final)
            self.abort()
            raise DataWriteError(
                f"cannot move the finished '{self.final}' into place: {ex}"
            ) from ex
        self._open = False
        fsync_dir(self.final.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        """Remove the temporary directory; ``final`` is left as it was."""
        if self._open:
            self._open = False
            shutil.rmtree(self.temp, ignore_errors=True)

    def _check_open(self) -> None:
        if not self._open:
            raise DataWriteError(f"'{self.final}' was already committed or aborted")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _host() -> str:
    return socket.gethostname().replace("/", "_") or "localhost"


def _partial_prefix(final: Path) -> str:
    return f".{final.name}.partial-{os.getpid()}-{_host()}-"


def remove_stale_partials(final: Path) -> list[Path]:
    """Remove the partial directories of ``final`` left by processes of this host that no
    longer run; returns them."""
    prefix = f".{final.name}.partial-"
    removed: list[Path] = []
    if not final.parent.is_dir():
        return removed
    host = _host()
    for entry in final.parent.iterdir():
        rest = entry.name.removeprefix(prefix)
        pid, _, host_and_tag = rest.partition("-")
        entry_host = host_and_tag.rpartition("-")[0]
        if rest == entry.name or not pid.isdigit() or entry_host != host:
            continue
        if int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed
