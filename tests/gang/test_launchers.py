"""``seqkit`` itself under a real launcher: ``torchrun -m seqkit gang check``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gang.world import free_port

pytestmark = pytest.mark.distributed

REPO = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "RANK", "WORLD_"))}
    return env | {"OMP_NUM_THREADS": "1"} | extra


def test_seqkit_runs_unchanged_under_torchrun() -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
           "--master-port", str(free_port()), "-m", "seqkit", "gang", "check",
           "--tp-size", "2", "--timeout", "60"]  # fmt: skip
    done = subprocess.run(cmd, env=_env(), cwd=REPO, capture_output=True, text=True, timeout=120)
    report = f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr[-3000:]}"
    assert done.returncode == 0, report
    lines = sorted(line for line in done.stdout.splitlines() if line.startswith("rank "))
    assert lines == [
        "rank 0 of 2 on cpu (gloo): tp ranks [0, 1], dp ranks [0], all_reduce ok",
        "rank 1 of 2 on cpu (gloo): tp ranks [0, 1], dp ranks [1], all_reduce ok",
    ], report
