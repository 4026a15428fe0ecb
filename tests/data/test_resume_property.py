"""Property: saving at any position and loading into a fresh pipeline continues exactly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqkit.data import DataPipeline, DataPipelineBuilder, read_sequence
from tests.data.conftest import check_resume_everywhere

Op = Callable[[DataPipelineBuilder], DataPipelineBuilder]


def _add(n: int) -> Callable[[Any], Any]:
    def fn(x: Any) -> Any:
        return [v + n for v in x] if isinstance(x, list) else x + n

    return fn


ops: st.SearchStrategy[Op] = st.one_of(
    st.builds(
        lambda k, p: lambda b: b.map(_add(k), num_parallel_calls=p),
        st.integers(0, 5),
        st.integers(1, 4),
    ),
    st.builds(lambda k: lambda b: b.filter(lambda x: hash(str(x)) % k != 0), st.integers(2, 5)),
    st.builds(lambda w, s: lambda b: b.shuffle(w, seed=s), st.integers(0, 6), st.integers(0, 3)),
    st.builds(lambda n: lambda b: b.bucket(n).unbatch(), st.integers(1, 4)),
    st.builds(lambda i: lambda b: b.shard(i, 2), st.integers(0, 1)),
    st.builds(lambda n: lambda b: b.skip(n), st.integers(0, 3)),
    st.builds(lambda n: lambda b: b.take(n), st.integers(0, 25)),
    st.just(lambda b: b.repeat(2)),
    st.builds(lambda n: lambda b: b.prefetch(n), st.integers(1, 4)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(0, 12), chain=st.lists(ops, min_size=1, max_size=5), tail=st.booleans())
def test_resume_at_every_position_equals_uninterrupted(n: int, chain: list[Op], tail: bool) -> None:
    def build() -> DataPipeline:
        b = read_sequence(list(range(n)))
        for op in chain:
            b = op(b)
        if tail:
            b = b.bucket(3).map(lambda batch: [x for x in batch])
        return b.and_return()

    check_resume_everywhere(build)
