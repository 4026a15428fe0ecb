"""Promise 2: kill -9 at any moment, resume, and the final weights are bitwise identical."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seqkit.checkpoint.files import load_tensors
from seqkit.metrics import WALL_CLOCK_METRICS
from tests.trainer.resume_driver import drive

REPO = Path(__file__).resolve().parents[2]
STEPS = 12


def _drive(out_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.trainer.resume_driver",
            str(out_dir),
            "--steps",
            str(STEPS),
            *args,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _records(path: Path) -> dict[tuple[str, int], list[dict[str, object]]]:
    records: dict[tuple[str, int], list[dict[str, object]]] = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        key = (row.pop("section"), row.pop("step"))
        for name in WALL_CLOCK_METRICS:
            row.pop(name, None)
        records.setdefault(key, []).append(row)
    return records


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    summary = drive(out, steps=STEPS)  # in-process: same code, one thread, same bits
    assert summary.stop_reason == "max_steps"
    return out


def _assert_same_as_reference(run: Path, reference: Path) -> None:
    final = load_tensors(run / "final.safetensors")
    expected = load_tensors(reference / "final.safetensors")
    assert final.keys() == expected.keys()
    for name in final:
        assert torch.equal(final[name], expected[name]), name  # bitwise, not approximate
    got, want = _records(run / "metrics.jsonl"), _records(reference / "metrics.jsonl")
    assert set(got) == set(want)
    for key, rows in got.items():
        assert all(row == want[key][0] for row in rows), key  # duplicates after resume too


@pytest.mark.slow
def test_sigkill_at_random_step_then_resume_is_bitwise_exact(
    reference: Path, tmp_path: Path
) -> None:
    kill_step = random.Random(7).randint(4, STEPS - 2)
    killed = _drive(tmp_path, "--kill-at-step", str(kill_step))
    assert killed.returncode == -signal.SIGKILL
    resumed = _drive(tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    last_ckpt = (kill_step - 1) // 3 * 3  # killed while recording, before that step saves
    assert f"STOP max_steps {STEPS} {last_ckpt}" in resumed.stdout
    _assert_same_as_reference(tmp_path, reference)


@pytest.mark.slow
def test_sigkill_during_checkpoint_write_resumes_from_previous(
    reference: Path, tmp_path: Path
) -> None:
    killed = _drive(tmp_path, "--kill-while-saving", "6")
    assert killed.returncode == -signal.SIGKILL
    ckpt_dir = tmp_path / "checkpoints"
    assert (ckpt_dir / "step_6.tmp").is_dir()  # torn write left behind, never committed
    assert (ckpt_dir / "step_3").is_dir()  # the previous checkpoint is intact
    assert not (ckpt_dir / "step_6.tmp" / "manifest.json").exists()
    resumed = _drive(tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"STOP max_steps {STEPS} 3" in resumed.stdout
    assert not (ckpt_dir / "step_6.tmp").exists()  # cleared on resume
    _assert_same_as_reference(tmp_path, reference)


def test_sigterm_checkpoints_then_exits_and_resumes_exactly(
    reference: Path, tmp_path: Path
) -> None:
    # In-process: the trainer's handler catches the SIGTERM the recorder sends at step 4;
    # step 5 (already started) finishes, then it checkpoints and returns.
    stopped = drive(tmp_path, steps=STEPS, sigterm_at_step=4)
    assert stopped.stop_reason == "signal"
    assert stopped.step == 5
    assert (tmp_path / "checkpoints" / "step_5" / "manifest.json").is_file()
    resumed = drive(tmp_path, steps=STEPS)
    assert resumed.resumed_from == 5
    assert resumed.step == STEPS
    _assert_same_as_reference(tmp_path, reference)
