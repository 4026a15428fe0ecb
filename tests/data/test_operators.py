from __future__ import annotations

import threading
import time

import pytest

from seqkit.data import DataPipelineError, read_sequence
from tests.data.conftest import check_resume_everywhere, drain


def test_map_serial_parallel_and_selector() -> None:
    assert list(read_sequence(range(5)).map(lambda x: x + 1).and_return()) == [1, 2, 3, 4, 5]
    out = list(read_sequence(range(50)).map(lambda x: x * x, num_parallel_calls=4).and_return())
    assert out == [x * x for x in range(50)]
    chained = read_sequence([1]).map([lambda x: x + 1, lambda x: x * 10]).and_return()
    assert list(chained) == [20]
    nested = read_sequence([{"a": {"b": 1}, "c": 2}]).map(lambda x: x + 1, selector="a.b")
    assert list(nested.and_return()) == [{"a": {"b": 2}, "c": 2}]


def test_map_error_names_operator_and_example() -> None:
    def fn(x: int) -> int:
        if x == 3:
            raise KeyError("boom")
        return x

    for parallel in (1, 3):
        p = read_sequence(range(6)).map(fn, num_parallel_calls=parallel).and_return()
        assert [next(p) for _ in range(3)] == [0, 1, 2]
        with pytest.raises(DataPipelineError, match=r"example 3 .*'map'.*KeyError") as info:
            next(p)
        assert isinstance(info.value.__cause__, KeyError)
        assert info.value.example_index == 3


def test_map_selector_missing_key_is_reported() -> None:
    p = read_sequence([{"a": 1}]).map(lambda x: x, selector="b").and_return()
    with pytest.raises(DataPipelineError, match="key 'b'"):
        next(p)


def test_filter_counts_rejected() -> None:
    p = read_sequence(range(10)).filter(lambda x: x % 3 == 0).and_return()
    assert list(p) == [0, 3, 6, 9]
    assert p.stats()[0]["rejected"] == 6


def test_shuffle_is_a_seeded_permutation() -> None:
    def build(seed: int, window: int = 8):
        return read_sequence(range(40)).shuffle(window, seed=seed).and_return()

    a = list(build(1))
    assert sorted(a) == list(range(40))
    assert a != list(range(40))
    assert a == list(build(1))
    assert a != list(build(2))
    # Window 0 shuffles the whole input; window 1 keeps the order.
    assert sorted(build(1, 0)) == list(range(40))
    assert list(build(1, 1)) == list(range(40))
    check_resume_everywhere(lambda: build(7))


def test_shuffle_reset_rng() -> None:
    p = read_sequence(range(20)).shuffle(5, seed=3).and_return()
    first = list(p)
    p.reset()
    second = list(p)
    p.reset(reset_rng=True)
    assert list(p) == first
    assert sorted(second) == sorted(first)


def test_bucket_and_drop_remainder() -> None:
    assert list(read_sequence(range(5)).bucket(2).and_return()) == [[0, 1], [2, 3], [4]]
    p = read_sequence(range(5)).bucket(2, drop_remainder=True).and_return()
    assert list(p) == [[0, 1], [2, 3]]
    assert p.stats()[0]["dropped"] == 1


def test_bucket_by_length_groups_and_counts_skips() -> None:
    seqs = [[1] * n for n in [1, 5, 2, 9, 3, 4, 20, 0, 6]]
    p = (
        read_sequence(seqs)
        .bucket_by_length(
            [(2, 4), (2, 10)], skip_above_max_examples=True, skip_below_min_examples=True
        )
        .and_return()
    )
    lens = [[len(x) for x in b] for b in p]
    assert lens == [[1, 2], [5, 9], [3, 4], [6]]
    stats = p.stats()[0]
    assert stats["skipped_long"] == 1
    assert stats["skipped_short"] == 1


def test_bucket_by_length_errors_without_skip() -> None:
    p = read_sequence([[1] * 50]).bucket_by_length([(2, 10)]).and_return()
    with pytest.raises(DataPipelineError, match="skip_above_max_examples"):
        next(p)


def test_bucket_by_length_resume_with_selector() -> None:
    seqs = [{"ids": list(range(n % 7 + 1))} for n in range(30)]
    check_resume_everywhere(
        lambda: read_sequence(seqs).bucket_by_length([(3, 3), (2, 7)], selector="ids").and_return()
    )


def test_shard_take_skip_repeat() -> None:
    assert list(read_sequence(range(10)).shard(1, 3).and_return()) == [1, 4, 7]
    mapped = read_sequence(range(10)).map(lambda x: x).shard(1, 3).and_return()
    assert list(mapped) == [1, 4, 7]
    assert mapped.stats()[0]["split_at_source"] == 0
    assert list(read_sequence(range(10)).skip(7).and_return()) == [7, 8, 9]
    assert list(read_sequence(range(10)).take(2).and_return()) == [0, 1]
    assert list(read_sequence([1, 2]).repeat(3).and_return()) == [1, 2, 1, 2, 1, 2]
    assert list(read_sequence([1, 2]).repeat().take(5).and_return()) == [1, 2, 1, 2, 1]
    assert list(read_sequence([]).repeat().and_return()) == []
    check_resume_everywhere(
        lambda: read_sequence(range(7)).shard(0, 2).repeat(2).skip(1).and_return()
    )


def test_yield_from_and_unbatch() -> None:
    def explode(x: int):
        return read_sequence([x] * x).and_return()

    def build():
        return read_sequence([1, 0, 3, 2]).yield_from(explode).and_return()

    assert drain(build()) == [1, 3, 3, 3, 2, 2]
    check_resume_everywhere(build)
    unbatched = read_sequence([[1, 2], [], [3]]).unbatch().and_return()
    assert list(unbatched) == [1, 2, 3]
    check_resume_everywhere(lambda: read_sequence(range(7)).bucket(3).unbatch().and_return())


def test_prefetch_keeps_order_and_resumes() -> None:
    p = read_sequence(range(100)).map(lambda x: x * 2).prefetch(4).and_return()
    assert list(p) == [x * 2 for x in range(100)]

    def build():
        return (
            read_sequence(range(30))
            .map(lambda x: x + 1, num_parallel_calls=3)
            .prefetch(5)
            .and_return()
        )

    check_resume_everywhere(build, positions=[0, 1, 2, 10, 29, 30])


def test_stats_report_every_operator() -> None:
    p = read_sequence(range(10)).map(lambda x: x).bucket(3).and_return()
    list(p)
    stats = p.stats()
    assert [s["operator"] for s in stats] == ["bucket", "map", "read_sequence"]
    assert [s["depth"] for s in stats] == [0, 1, 2]
    assert stats[1]["num_yielded"] == 10
    assert stats[0]["num_yielded"] == 4
    assert all(s["time_s"] >= 0 for s in stats)


@pytest.mark.parametrize("capacity", [1, 2, 3, 8])
def test_prefetch_resume_around_refill_thresholds(capacity: int) -> None:
    # The refill/wake thresholds (half the capacity, two elements) must not lose or repeat
    # buffered elements: state_dict at any position saves what was prefetched.
    def build():
        return read_sequence(range(20)).map(lambda x: x * 3).prefetch(capacity).and_return()

    assert check_resume_everywhere(build) == [x * 3 for x in range(20)]


def test_prefetch_stats_count_waits() -> None:
    p = read_sequence(range(50)).map(lambda x: x).prefetch(4).and_return()
    assert list(p) == list(range(50))
    stats = p.stats()[0]
    assert stats["operator"] == "prefetch"
    assert isinstance(stats["consumer_waits"], int)
    assert stats["consumer_waits"] >= 0
    assert isinstance(stats["producer_waits"], int)
    assert stats["producer_waits"] >= 0


def test_shuffle_state_is_not_changed_by_later_iteration() -> None:
    # The window is shared with the saved state and copied on write.
    p = read_sequence(range(60)).shuffle(16, seed=5).and_return()
    head = [next(p) for _ in range(10)]
    state = p.state_dict()
    rest = list(p)
    p.load_state_dict(state)
    again = p.state_dict()
    assert list(p) == rest
    q = read_sequence(range(60)).shuffle(16, seed=5).and_return()
    q.load_state_dict(again)
    assert list(q) == rest
    assert sorted(head + rest) == list(range(60))


def test_stats_time_is_in_seconds() -> None:
    def sleepy(x: int) -> int:
        time.sleep(0.002)
        return x

    p = read_sequence(range(5)).map(sleepy).and_return()
    list(p)
    # Five 2 ms sleeps happened inside map: a lower bound on its time, not a speed test.
    assert p.stats()[0]["time_s"] >= 0.009


@pytest.mark.parametrize("k", [0, 1, 7, 40])
def test_shuffle_reset_keeps_rng_going_after_look_ahead(k: int) -> None:
    # Regression guard for the look-ahead draw: reset() without reset_rng continues the
    # RNG from where an uninterrupted pipeline was, whether or not a draw is pending.
    def build():
        return read_sequence(range(40)).shuffle(8, seed=11).and_return()

    p = build()
    for _ in range(k):
        next(p)
    state = p.state_dict()
    p.reset()
    q = build()
    q.load_state_dict(state)
    q.reset()
    assert list(p) == list(q)


def test_prefetch_ready_elements_taken_without_waiting_keep_order_and_resume() -> None:
    # The consumer takes buffered elements with the GIL held (no hand-off); order, stats
    # and state are those of the waiting path.
    def build():
        return read_sequence(range(30)).map(lambda x: x + 1).bucket(2).prefetch(6).and_return()

    p = build()
    first = next(p)
    time.sleep(0.05)  # the buffer fills: the next elements are ready
    rest = list(p)
    assert [first, *rest] == [[x + 1, x + 2] for x in range(0, 30, 2)]
    assert p.stats()[0]["num_yielded"] == 15
    check_resume_everywhere(build)


def test_prefetch_delivers_a_lone_ready_element_to_a_waiting_consumer() -> None:
    # Element 1 is only produced once the consumer has seen element 0 (a feedback loop):
    # prefetch must hand over element 0 without waiting for a second one.
    seen_first = threading.Event()
    timed_out: list[bool] = []

    def produce(x: int) -> int:
        if x == 1:
            timed_out.append(not seen_first.wait(timeout=30))
        return x

    pipeline = read_sequence(list(range(4))).map(produce).prefetch(4).and_return()
    assert next(pipeline) == 0
    seen_first.set()
    assert list(pipeline) == [1, 2, 3]
    assert timed_out == [False]
