from __future__ import annotations

import pytest

from seqkit.recipes.batching import IndexedBatchReader
from seqkit.recipes.errors import RecipeDataError


def _reader(rank: int = 0, world: int = 1, **kwargs: object) -> IndexedBatchReader[list[int]]:
    options: dict[str, object] = {"num_items": 23, "batch_size": 4, "seed": 7}
    options.update(kwargs)
    return IndexedBatchReader(make_batch=lambda idx: idx, rank=rank, world_size=world, **options)  # type: ignore[arg-type]


def test_epoch_yields_distinct_items_and_reset_reshuffles() -> None:
    reader = _reader()
    first = [i for batch in reader for i in batch]
    assert len(first) == 20  # 23 // 4 full batches
    assert len(set(first)) == 20
    assert list(reader) == []  # the epoch is exhausted until reset()
    reader.reset()
    second = [i for batch in reader for i in batch]
    assert second != first
    assert reader.epoch == 1


def test_ranks_get_disjoint_shares_of_the_same_permutation() -> None:
    shares = [[i for b in _reader(rank=r, world=2, batch_size=3) for i in b] for r in range(2)]
    assert not set(shares[0]) & set(shares[1])
    assert len(shares[0]) == len(shares[1]) == 9


def test_state_dict_resumes_exactly() -> None:
    reader = _reader()
    iterator = iter(reader)
    next(iterator)
    next(iterator)
    state = reader.state_dict()
    rest = list(iterator)
    restored = _reader()
    restored.load_state_dict(state)
    assert list(restored) == rest


def test_global_position_carries_to_another_world_size() -> None:
    two = [_reader(rank=r, world=2, batch_size=2, num_items=24) for r in range(2)]
    consumed = set()
    for reader in two:
        iterator = iter(reader)
        for _ in range(2):
            consumed.update(next(iterator))
    state = two[0].global_state_dict()
    assert state["consumed"] == 8
    one = _reader(batch_size=2, num_items=24)
    one.load_global_state_dict(state)
    remaining = [i for b in one for i in b]
    assert not consumed & set(remaining)
    assert consumed | set(remaining) == set(range(24))


def test_unshuffled_without_drop_keeps_order_and_tail() -> None:
    reader = _reader(shuffle=False, drop_remainder=False)
    assert [i for b in reader for i in b] == list(range(23))


def test_too_little_data_is_reported() -> None:
    with pytest.raises(RecipeDataError, match="too few for batches of 4"):
        _reader(num_items=5, world=2)
