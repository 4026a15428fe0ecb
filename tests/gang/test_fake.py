from __future__ import annotations

import pytest
import torch

from seqkit.gang import FakeGang, ReduceOperation


def test_fake_gang_collectives_are_the_size_one_results() -> None:
    gang = FakeGang()
    assert (gang.rank, gang.size, gang.device) == (0, 1, torch.device("cpu"))
    t = torch.tensor([1.0, 2.0])
    for op in ReduceOperation:
        gang.all_reduce(t, op)
    assert t.tolist() == [1.0, 2.0]
    out = torch.empty(2, 3)
    gang.all_gather(out, torch.ones(2, 3))
    assert out.eq(1).all()
    outs = [torch.empty(2)]
    gang.all_gather_to_list(outs, torch.tensor([3.0, 4.0]))
    assert outs[0].tolist() == [3.0, 4.0]
    objs: list[object] = ["a"]
    gang.broadcast_objects(objs)
    gang.broadcast(t)
    gang.barrier()
    assert objs == ["a"]
    sub = gang.create_gang([0])
    assert isinstance(sub, FakeGang)
    assert sub.size == 1


def test_fake_gang_rejects_what_a_real_gang_of_one_would() -> None:
    gang = FakeGang()
    with pytest.raises(ValueError, match="shape"):
        gang.all_gather(torch.empty(4, 3), torch.ones(2, 3))
    with pytest.raises(ValueError, match="1 tensor"):
        gang.all_gather_to_list([torch.empty(1), torch.empty(1)], torch.ones(1))
    with pytest.raises(ValueError, match="source_rank"):
        gang.broadcast(torch.ones(1), source_rank=1)
    with pytest.raises(ValueError, match="between 0 and 0"):
        gang.create_gang([1])
    with pytest.raises(ValueError, match="at least one"):
        gang.create_gang([])
    gang.close()
    with pytest.raises(RuntimeError, match="closed"):
        gang.barrier()
