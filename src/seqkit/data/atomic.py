"""A directory that appears complete or not at all (reliability contract, item 1).

Files are written under ``.<name>.partial-<pid>`` beside the final path, fsynced, and the
directory is renamed into place only when complete, then the parent is fsynced. A crash
(even ``kill -9``) leaves at most a hidden partial directory, never a half-written dataset
at the final path; the next writer of the same path removes partials of dead processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
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
        self.temp = final.with_name(f".{final.name}.partial-{os.getpid()}")
        """Where the files go until :meth:`commit`."""
        if final.exists() and not overwrite:
            raise DataWriteError(
                f"'{final}' already exists; remove it or pass overwrite (--overwrite)"
            )
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(final)
        if self.temp.exists():
            shutil.rmtree(self.temp)
        self.temp.mkdir()
        self._open = True

    def commit(self) -> None:
        """Rename the finished directory into place (after replacing an old one, if any)."""
        self._check_open()
        fsync_dir(self.temp)
        old = self.final.with_name(f".{self.final.name}.old-{os.getpid()}")
        try:
            if self.final.exists():
                os.replace(self.final, old)
            os.replace(self.temp, self.final)
        except OSError as ex:
            self.abort()
            raise DataWriteError(
                f"cannot move the finished '{self.final}' into place: {ex}"
            ) from ex
        self._open = False
        fsync_dir(self.final.parent)
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


def remove_stale_partials(final: Path) -> list[Path]:
    """Remove the partial directories of ``final`` left by processes that no longer run."""
    prefix = f".{final.name}.partial-"
    removed: list[Path] = []
    if not final.parent.is_dir():
        return removed
    for entry in final.parent.iterdir():
        pid = entry.name.removeprefix(prefix)
        stale = pid != entry.name and pid.isdigit() and int(pid) != os.getpid()
        if stale and not _pid_alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed
