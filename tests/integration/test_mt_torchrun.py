"""``torchrun --nproc-per-node 2 -m seqkit mt train``: BLEU validation split over DDP ranks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.test_torchrun import _free_port

pytestmark = [pytest.mark.integration, pytest.mark.distributed]


def test_mt_train_bleu_validation_under_torchrun(tmp_path: Path, copy_task: Path) -> None:
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    out = tmp_path / "mt"
    cmd = [
        torchrun, "--nproc-per-node", "2", "--master-port", str(_free_port()), "-m", "seqkit",
        "mt", "train", str(out), "--preset", "tiny",
        "--config", f"data.tsv_files=[{copy_task}]", "--config", "data.target_lang=xx",
        "--config", "train.max_steps=12", "--config", "train.validate_every_n_steps=6",
        "--config", "train.checkpoint_every_n_steps=6", "--config", "train.progress_bar=false",
        "--config", "train.device=cpu", "--config", "bleu.num_sentences=9",
        "--config", "train.best_metric=bleu", "--config", "train.early_stopping_patience=5",
        "--config", "train.keep_best_checkpoints=1", "--config", "train.final_model=best",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Every validation has BLEU, recorded once (rank 0); the exported model is the best
    # validation's, and the final BLEU (both ranks translating) is that model's.
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    valid = [r for r in rows if r["section"] == "valid"]
    assert [r["step"] for r in valid] == [6, 12]
    assert all("bleu" in r and "chrf" in r for r in valid)
    (final,) = [r for r in rows if r["section"] == "valid_bleu"]
    best = max(valid, key=lambda r: r["bleu"])  # the earliest of equal scores
    assert (final["step"], final["bleu"]) == (best["step"], best["bleu"])
    card = yaml.safe_load((out / "card.yaml").read_text())
    assert card["weights_from_step"] == best["step"]
    assert final["sentences"] == 9
    assert proc.stdout.count("Held-out en->xx (9 pairs") == 1
