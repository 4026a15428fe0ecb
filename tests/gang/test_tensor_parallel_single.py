"""The parallel layers and wrappers on a gang of one (the multi-rank checks are in
test_multiprocess.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqkit.gang import (
    ColumnShardedLinear,
    FakeGang,
    FsdpConfig,
    GangSetupError,
    RowShardedLinear,
    ShardingError,
    ShardKind,
    VocabShardedEmbedding,
    get_consolidated_state_dict,
    get_sharded_state_dict,
    load_sharded_state_dict,
    shard_modules,
    to_ddp,
    to_fsdp,
)
from seqkit.gang.gang import Gang
from seqkit.gang.tensor_parallel import _split


def test_layers_on_a_gang_of_one_equal_the_full_modules() -> None:
    torch.manual_seed(0)
    gang = FakeGang()
    lin, emb = nn.Linear(4, 6), nn.Embedding(10, 4, padding_idx=1)
    x, ids = torch.randn(3, 4), torch.tensor([[1, 2, 9]])
    torch.testing.assert_close(
        ColumnShardedLinear.from_linear(lin, gang, gather_output=True)(x), lin(x)
    )
    torch.testing.assert_close(RowShardedLinear.from_linear(lin, gang)(x), lin(x))
    sharded_emb = VocabShardedEmbedding.from_embedding(emb, gang)
    torch.testing.assert_close(sharded_emb(ids), emb(ids))
    sharded_emb(ids).sum().backward()
    assert sharded_emb.weight.grad is not None
    assert sharded_emb.weight.grad[1].eq(0).all()  # the pad row gets no gradient
    assert "rows=[0, 10)" in repr(sharded_emb)


class _TwoRanks(Gang):
    """A gang that only knows its shape: enough for the checks that run before any
    communication."""

    rank, size, device = 0, 2, torch.device("cpu")  # type: ignore[assignment]

    def _no(self, *_: object, **__: object) -> None:
        raise AssertionError("no collective expected")

    all_reduce = all_gather = all_gather_to_list = broadcast = _no  # type: ignore[assignment]
    broadcast_objects = barrier = create_gang = close = _no  # type: ignore[assignment]


def test_sizes_not_divisible_by_tp_size_are_rejected() -> None:
    gang: Gang = _TwoRanks()
    with pytest.raises(ShardingError, match=r"vocabulary size \(7\) is not divisible"):
        _split(7, gang, "vocabulary size")
    with pytest.raises(ShardingError, match="output features"):
        ColumnShardedLinear(4, 5, gang)


def test_shard_modules_checks_paths_and_types() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    assert shard_modules(model, FakeGang(), {"9": ShardKind.ROW}) == []  # no-op at size 1
    gang: Gang = _TwoRanks()
    with pytest.raises(ShardingError, match="matches no module"):
        shard_modules(model, gang, {"9": ShardKind.ROW})
    with pytest.raises(ShardingError, match="ReLU, not a Linear"):
        shard_modules(model, gang, {"1": ShardKind.COLUMN})
    with pytest.raises(ShardingError, match="not an Embedding"):
        shard_modules(model, gang, {"0": ShardKind.VOCAB})


def test_wrappers_pass_through_on_a_fake_gang_and_check_configs() -> None:
    model = nn.Linear(2, 2)
    assert to_ddp(model, FakeGang()) is model
    assert to_fsdp(model, FakeGang()) is model
    with pytest.raises(GangSetupError, match="floating-point"):
        FsdpConfig(param_dtype=torch.int32)
    with pytest.raises(GangSetupError, match="needs a ProcessGroupGang"):
        to_ddp(model, _TwoRanks())


def test_state_dicts_of_a_plain_model_round_trip() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2))
    full = get_consolidated_state_dict(model, FakeGang())
    assert full.keys() == {"0.weight", "0.bias"}
    other = nn.Sequential(nn.Linear(3, 2))
    load_sharded_state_dict(other, get_sharded_state_dict(model))
    torch.testing.assert_close(other[0].weight, model[0].weight)
    with pytest.raises(ShardingError, match="same world size"):
        load_sharded_state_dict(other, {"0.weight": torch.zeros(1, 3), "0.bias": torch.zeros(2)})
