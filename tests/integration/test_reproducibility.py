"""The same command twice, in two processes, gives the same bytes: tokenizer, data, weights."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _digests(out: Path) -> dict[str, str]:
    names = ["tokenizer/spm.model", "model/model.safetensors"]
    names += sorted(str(p.relative_to(out)) for p in (out / "data").rglob("*.bin"))
    return {n: hashlib.sha256((out / n).read_bytes()).hexdigest() for n in names}


def test_lm_train_twice_gives_identical_bytes(tmp_path: Path, corpus: Path) -> None:
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        cmd = [sys.executable, "-m", "seqkit", "lm", "train", str(out), "--preset", "tiny",
               "--config", f"data.train_files=[{corpus}]", "--config", "train.max_steps=6",
               "--config", "train.progress_bar=false",
               # Fewer than the corpus lines: the tokenizer trains on a sample.
               "--config", "tokenizer.max_training_lines=200"]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs.append(_digests(out))
    assert len(runs[0]) >= 4
    assert runs[0] == runs[1]
