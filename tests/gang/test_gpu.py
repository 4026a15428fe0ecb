"""The NCCL/CUDA path: collectives, FSDP2 in bf16 and DDP on one GPU per rank. CI has no
GPU, so this skips there; run it on a GPU machine with ``pytest -m gpu tests/gang``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.gang import workers
from tests.gang.world import run_world

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.distributed,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_nccl_collectives_fsdp2_bf16_and_ddp_on_cuda(tmp_path: Path) -> None:
    size = min(2, torch.cuda.device_count())
    results = run_world(workers.world_gpu, size, tmp_path, limit_s=300)
    for result in results:
        assert result["grads_finite"]
        assert result["bf16_err"] < 0.1  # bf16 keeps ~3 significant digits
        assert result["keys"] == len(workers.TinyBlock().state_dict())
