"""Every benchmark still runs: each script's ``--quick`` smoke run must exit 0 and report.

No timing is checked here (the machines are shared and noisy); ``make bench`` is where
the figures come from. This only keeps the benchmarks from rotting as the code changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPTS = sorted(
    p for p in BENCHMARKS.glob("*.py") if p.name != "run_all.py" and not p.name.startswith("_")
)


def test_the_benchmarks_are_found() -> None:
    assert {"data_pipeline", "generation", "preprocess", "trainer"} <= {p.stem for p in SCRIPTS}


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_quick_run_succeeds(script: Path, tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(script), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert result.returncode == 0, f"{script.name} --quick failed:\n{result.stderr[-3000:]}"
    assert result.stdout.strip(), f"{script.name} --quick printed no report"
