from __future__ import annotations

from datetime import timedelta

import pytest
import torch
import torch.distributed as dist

from seqkit.gang import GangSetupError, ProcessGroupGang, backend_for
from tests.gang.world import free_port


def test_backend_follows_the_device() -> None:
    assert backend_for(torch.device("cpu")) == "gloo"
    assert backend_for(torch.device("cuda", 1)) == "cpu:gloo,cuda:nccl"


def test_a_rank_that_never_starts_fails_setup_within_the_timeout() -> None:
    # Rank 0 of 2 waits for a rank 1 that never comes: a clear error, not a hang.
    init_method = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(GangSetupError) as info:
        ProcessGroupGang.create_default(
            device=torch.device("cpu"),
            timeout=timedelta(seconds=1),
            rank=0,
            size=2,
            init_method=init_method,
        )
    message = str(info.value)
    assert f"Rank 0 of 2 could not join torch.distributed at {init_method}" in message
    assert "within 1 s" in message
    assert not dist.is_initialized()
