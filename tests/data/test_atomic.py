"""AtomicDirectory: complete or invisible, even with several writers of one path."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from seqkit.data import DataWriteError
from seqkit.data.atomic import AtomicDirectory, remove_stale_partials


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def _write(directory: AtomicDirectory, payload: str) -> None:
    (directory.temp / "a.txt").write_text(payload)
    (directory.temp / "b.txt").write_text(payload)


def test_two_writers_of_one_path_in_one_process_do_not_mix(tmp_path: Path) -> None:
    first = AtomicDirectory(tmp_path / "out", overwrite=True)
    second = AtomicDirectory(tmp_path / "out", overwrite=True)
    assert first.temp != second.temp
    _write(first, "first")
    _write(second, "second")
    first.commit()
    assert {p.read_text() for p in (tmp_path / "out").iterdir()} == {"first"}
    second.commit()
    assert {p.read_text() for p in (tmp_path / "out").iterdir()} == {"second"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_only_this_hosts_dead_writers_partials_are_removed(tmp_path: Path) -> None:
    dead = _dead_pid()
    host = socket.gethostname()
    stale = tmp_path / f".out.partial-{dead}-{host}-x1"
    elsewhere = tmp_path / f".out.partial-{dead}-another-host-x2"
    alive = tmp_path / f".out.partial-{os.getpid()}-{host}-x3"
    for path in (stale, elsewhere, alive):
        path.mkdir()
    assert remove_stale_partials(tmp_path / "out") == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([elsewhere.name, alive.name])


def test_a_failed_rename_puts_the_old_directory_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    final = tmp_path / "out"
    final.mkdir()
    (final / "a.txt").write_text("old")
    writer = AtomicDirectory(final, overwrite=True)
    _write(writer, "new")
    real_replace = os.replace

    def failing_replace(src: object, dst: object) -> None:
        if Path(str(src)) == writer.temp:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(DataWriteError, match="cannot move the finished"):
        writer.commit()
    monkeypatch.undo()
    assert (final / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_path_that_appears_meanwhile_is_not_replaced_without_overwrite(tmp_path: Path) -> None:
    writer = AtomicDirectory(tmp_path / "out")
    _write(writer, "mine")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "theirs.txt").write_text("theirs")
    with pytest.raises(DataWriteError, match="appeared while this dataset was written"):
        writer.commit()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["theirs.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
