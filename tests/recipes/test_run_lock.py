"""One run per output directory, and resumes that keep their setup."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqkit.recipes.errors import RecipeError
from seqkit.recipes.run_lock import OutputDirLock, prepare_output_dir


def test_a_second_holder_is_refused_and_named(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; "
         "from seqkit.recipes.run_lock import OutputDirLock; "
         f"lock = OutputDirLock(Path({str(tmp_path)!r})); print('held', flush=True); "
         "time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RecipeError, match=rf"in use by another run \(pid {holder.pid} on "):
            OutputDirLock(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    # The holder died: the lock is free again.
    deadline = time.monotonic() + 10
    while True:
        try:
            OutputDirLock(tmp_path).release()
            break
        except RecipeError:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_output_dir_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "out"
    path.write_text("x")
    with pytest.raises(RecipeError, match="is a file"):
        prepare_output_dir(path)
