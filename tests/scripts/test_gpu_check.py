"""``scripts/gpu_check.sh --dry-run`` runs every step of the GPU check on the CPU, so the
script, the gpu tests and the throughput benchmark cannot rot between GPU runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.sh"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None, reason="bash")
def test_dry_run_passes_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {
        **os.environ,
        "OUT": str(out),
        "PYTHON": sys.executable,
        "OMP_NUM_THREADS": "1",
        "TMPDIR": str(tmp_path),
    }
    result = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    log = (out / "gpu_check.log").read_text() if (out / "gpu_check.log").exists() else ""
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{log[-4000:]}"
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["dry_run"] is True
    assert report["passed"] is True
    assert [s["name"] for s in report["steps"]] == ["gpu_tests", "train_throughput", "generation"]
    modes = report["train_throughput"]["modes"]
    assert {"eager", "hf"} <= modes.keys()
    assert modes["eager"]["tokens_per_s"] > 0
    assert modes["eager"]["mfu"] > 0
    assert "all checks passed" in result.stdout
    assert "greedy tokens identical to HF in float32: True" in log


def test_unknown_argument_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(SCRIPT), "--bogus"],
        capture_output=True,
        text=True,
        env={**os.environ, "OUT": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 2
    assert "unknown argument --bogus" in result.stderr
