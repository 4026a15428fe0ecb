"""``torchrun --nproc-per-node 2 -m seqkit lm train``: data parallel on Gloo."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import seqkit
from seqkit.recipes.loss_curve import read_loss_curve

pytestmark = [pytest.mark.integration, pytest.mark.distributed]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "parallel",
    [
        "train.data_parallel=ddp",
        pytest.param("train.data_parallel=fsdp", marks=pytest.mark.slow),
        pytest.param("train.tp_size=2", marks=pytest.mark.slow),
    ],
)
def test_lm_train_under_torchrun(tmp_path: Path, corpus: Path, parallel: str) -> None:
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    out = tmp_path / "ddp"
    cmd = [
        torchrun, "--nproc-per-node", "2", "--master-port", str(_free_port()), "-m", "seqkit",
        "lm", "train", str(out), "--preset", "tiny",
        "--config", f"data.train_files=[{corpus}]", "--config", "train.max_steps=6",
        "--config", "train.validate_every_n_steps=3",
        "--config", "train.checkpoint_every_n_steps=3",
        "--config", "train.log_every_n_steps=3", "--config", "train.progress_bar=false",
        "--config", "train.device=cpu", "--config", parallel,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Rank 0 alone writes and prints.
    assert proc.stdout.count("Card:") == 1
    assert (out / "card.yaml").is_file()
    assert (out / "model" / "model.safetensors").is_file()
    assert [s for s, _ in read_loss_curve(out / "metrics.jsonl")] == [3, 6]
    valid = read_loss_curve(out / "metrics.jsonl", "valid")
    assert [s for s, _ in valid] == [3, 6]
    manifest = next((out / "checkpoints").glob("step_6/*.json"), None)
    assert manifest is not None
    # The saved model is whole (sharded weights were gathered) and loads in one process.
    from seqkit.models import ModelHub

    model = seqkit.setup().resolve(ModelHub).load(str(out / "card.yaml"))
    assert sum(p.numel() for p in model.parameters()) > 0
