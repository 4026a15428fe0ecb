"""metrics.jsonl after kill -9 and resume: every (section, step) row exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from seqkit.checkpoint import StandardCheckpointManager
from seqkit.gang import FakeGang
from seqkit.metrics import JsonlRecorder
from tests.trainer.toy import build_trainer

REPO = Path(__file__).resolve().parents[2]


def _keys(path: Path) -> Counter[tuple[str, int]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return Counter((row["section"], row["step"]) for row in rows)


def test_rows_after_the_resumed_checkpoint_are_not_duplicated(tmp_path: Path) -> None:
    def drive(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tests.trainer.resume_driver", str(tmp_path), *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )

    # Checkpoints every 3 steps, validation every 4: killed while recording step 8's
    # train row, so steps 7 and 8 are in the file but not in the step 6 checkpoint.
    killed = drive("--steps", "10", "--kill-at-step", "8")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    before = _keys(tmp_path / "metrics.jsonl")
    assert before[("train", 7)] == 1
    assert before[("train", 8)] == 1
    resumed = drive("--steps", "10")
    assert resumed.returncode == 0, resumed.stderr
    assert "STOP max_steps 10 6" in resumed.stdout  # resumed from step 6
    keys = _keys(tmp_path / "metrics.jsonl")
    assert {key: n for key, n in keys.items() if n > 1} == {}
    assert sorted(step for section, step in keys if section == "train") == list(range(1, 11))
    assert sorted(step for section, step in keys if section == "valid") == [4, 8, 10]


def test_restart_without_a_valid_checkpoint_supersedes_every_row(tmp_path: Path) -> None:
    """All checkpoints corrupt: training starts over at step 0, so the old rows go."""
    jsonl = JsonlRecorder(tmp_path / "metrics.jsonl")
    build_trainer(tmp_path, max_num_steps=3, checkpoint_every=3, recorders=[jsonl]).run()
    jsonl.close()
    manager = StandardCheckpointManager(tmp_path / "checkpoints", FakeGang())
    (manager.step_dir(3) / "manifest.json").unlink()
    jsonl = JsonlRecorder(tmp_path / "metrics.jsonl")
    summary = build_trainer(tmp_path, max_num_steps=3, checkpoint_every=3, recorders=[jsonl]).run()
    jsonl.close()
    assert summary.resumed_from is None
    assert _keys(tmp_path / "metrics.jsonl") == Counter(
        {("train", 1): 1, ("train", 2): 1, ("train", 3): 1}
    )
