"""map() runs Python callables in chunks: same outputs, order, errors and resume as
calling them one element at a time, and the ``__seqkit_map_batch__`` batch protocol."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

from seqkit.data import DataPipeline, DataPipelineError, read_sequence
from tests.data.conftest import check_resume_everywhere, drain

# Around the largest chunk of an element-wise callable (256) and of a batch form (1024).
SIZES = [0, 1, 2, 3, 255, 256, 257, 1023, 1024, 1025, 3000]


def square(x: int) -> int:
    return x * x


class Batched:
    """A callable with a batch form; counts its calls of each kind."""

    def __init__(self, *, fail_at: int | None = None, exc: type[BaseException] = ValueError):
        self.fail_at = fail_at
        self.exc = exc
        self.batch_calls = 0
        self.element_calls = 0
        self.largest = 0

    def __call__(self, x: int) -> int:
        self.element_calls += 1
        if x == self.fail_at:
            raise self.exc(f"bad example {x}")
        return x * 3 + 1

    def __seqkit_map_batch__(self, xs: list[int], num_parallel_calls: int) -> list[int]:
        assert num_parallel_calls >= 1
        self.batch_calls += 1
        self.largest = max(self.largest, len(xs))
        if self.fail_at in xs:
            raise self.exc(f"bad example {self.fail_at}")
        return [x * 3 + 1 for x in xs]


class Ragged:
    """A batch form returning the flat (ragged) form: row i is ``[i] * (i % 4)``."""

    def __call__(self, x: int) -> Any:
        import torch

        return torch.full((x % 4,), x, dtype=torch.int64)

    def __seqkit_map_batch__(self, xs: list[int], num_parallel_calls: int) -> Any:
        from seqkit.text.tokenizer import FlatEncoding

        lengths = np.array([x % 4 for x in xs], dtype=np.int64)
        tokens = np.repeat(np.array(xs, dtype=np.int64), lengths)
        return FlatEncoding(tokens=tokens, lengths=lengths)


@pytest.mark.parametrize("parallel", [1, 2, 3])
@pytest.mark.parametrize("n", SIZES)
def test_element_wise_callable_equals_calls_in_order(n: int, parallel: int) -> None:
    p = read_sequence(list(range(n))).map(square, num_parallel_calls=parallel).and_return()
    assert list(p) == [x * x for x in range(n)]
    assert p.stats()[0]["num_yielded"] == n
    assert p.stats()[0]["chunks"] <= max(n, 0)


@pytest.mark.parametrize("parallel", [1, 2])
@pytest.mark.parametrize("n", SIZES)
def test_batch_form_equals_element_wise(n: int, parallel: int) -> None:
    fn = Batched()
    p = read_sequence(list(range(n))).map(fn, num_parallel_calls=parallel).and_return()
    assert list(p) == [x * 3 + 1 for x in range(n)]
    assert fn.element_calls == 0
    assert fn.largest <= 1024
    if n:
        assert fn.batch_calls >= 1


@pytest.mark.parametrize("parallel", [1, 2])
def test_ragged_batch_form_gives_tensors_like_the_element_form(parallel: int) -> None:
    fn = Ragged()
    got = list(read_sequence(list(range(600))).map(fn, num_parallel_calls=parallel).and_return())
    expected = [fn(x) for x in range(600)]
    assert len(got) == 600
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == e.dtype
        assert g.shape == e.shape
        assert g.tolist() == e.tolist()


def test_list_of_functions_with_a_batch_stage() -> None:
    fn = Batched()
    p = read_sequence(list(range(700))).map([square, fn, str], num_parallel_calls=2).and_return()
    assert list(p) == [str(x * x * 3 + 1) for x in range(700)]


def test_selector_with_chunks() -> None:
    items = [{"a": i, "b": [i, i]} for i in range(600)]
    p = read_sequence(items).map(Batched(), selector="a", num_parallel_calls=2).and_return()
    assert list(p) == [{"a": i * 3 + 1, "b": [i, i]} for i in range(600)]


@pytest.mark.parametrize("parallel", [1, 2])
@pytest.mark.parametrize("fail_at", [0, 1, 37, 256, 999])
@pytest.mark.parametrize("batched", [False, True])
def test_error_in_a_chunk_names_the_example_and_breaks(
    fail_at: int, parallel: int, batched: bool
) -> None:
    def fn(x: int) -> int:
        if x == fail_at:
            raise ValueError(f"bad example {x}")
        return x * 3 + 1

    mapped = Batched(fail_at=fail_at) if batched else fn
    p = read_sequence(list(range(1000))).map(mapped, num_parallel_calls=parallel).and_return()
    got: list[int] = []
    with pytest.raises(DataPipelineError, match=f"bad example {fail_at}") as info:
        got.extend(p)
    assert got == [x * 3 + 1 for x in range(fail_at)]
    assert info.value.example_index == fail_at
    assert info.value.operator == "map"
    assert isinstance(info.value.__cause__, ValueError)
    assert p.is_broken
    with pytest.raises(DataPipelineError, match="broken"):
        next(p)
    p.reset()
    if fail_at > 0:
        assert next(p) == 1


def test_error_position_after_a_filter() -> None:
    # The pipeline position counts yielded examples; the map's own count is in the message.
    def fn(x: int) -> int:
        if x == 501:
            raise ValueError("odd one")
        return x

    p = (
        read_sequence(list(range(1000)))
        .filter(lambda x: x % 2 == 1)
        .map(fn, num_parallel_calls=2)
        .and_return()
    )
    got: list[int] = []
    with pytest.raises(DataPipelineError, match="odd one") as info:
        got.extend(p)
    assert got == list(range(1, 501, 2))
    assert info.value.example_index == 250


@pytest.mark.parametrize("parallel", [1, 2])
def test_upstream_error_comes_after_the_outputs_before_it(parallel: int) -> None:
    def check(x: int) -> bool:
        if x == 300:
            raise RuntimeError("upstream failed")
        return True

    p = (
        read_sequence(list(range(1000)))
        .filter(check)
        .map(square, num_parallel_calls=parallel)
        .and_return()
    )
    got: list[int] = []
    with pytest.raises(DataPipelineError, match="upstream failed") as info:
        got.extend(p)
    assert got == [x * x for x in range(300)]
    assert info.value.operator == "filter"
    assert info.value.example_index == 300
    assert p.is_broken


@pytest.mark.parametrize("parallel", [1, 2])
@pytest.mark.parametrize("batched", [False, True])
def test_keyboard_interrupt_in_a_chunk_passes_through(parallel: int, batched: bool) -> None:
    def fn(x: int) -> int:
        if x == 40:
            raise KeyboardInterrupt
        return x

    mapped = Batched(fail_at=40, exc=KeyboardInterrupt) if batched else fn
    p = read_sequence(list(range(200))).map(mapped, num_parallel_calls=parallel).and_return()
    with pytest.raises(KeyboardInterrupt):
        list(p)
    if batched:
        # The batch form is not retried element by element after a KeyboardInterrupt.
        assert mapped.element_calls == 0  # type: ignore[union-attr]


def test_batch_form_of_the_wrong_length_is_a_clear_error() -> None:
    class Short:
        def __call__(self, x: int) -> int:
            return x

        def __seqkit_map_batch__(self, xs: list[int], num_parallel_calls: int) -> list[int]:
            return xs[:-1]

    p = read_sequence(list(range(10))).map(Short()).and_return()
    with pytest.raises(DataPipelineError, match=r"returned 0 outputs for 1 inputs") as info:
        next(p)
    assert isinstance(info.value.__cause__, ValueError)
    assert "__seqkit_map_batch__" in str(info.value.__cause__)
    assert "one output per input" in str(info.value.__cause__)
    assert p.is_broken


def test_ragged_batch_form_of_the_wrong_length_is_a_clear_error() -> None:
    class BadRagged(Ragged):
        def __seqkit_map_batch__(self, xs: list[int], num_parallel_calls: int) -> Any:
            from seqkit.text.tokenizer import FlatEncoding

            return FlatEncoding(
                tokens=np.zeros(0, dtype=np.int64), lengths=np.zeros(len(xs) + 1, dtype=np.int64)
            )

    p = read_sequence(list(range(10))).map(BadRagged()).and_return()
    with pytest.raises(DataPipelineError, match=r"returned 2 outputs for 1 inputs"):
        next(p)


def test_batch_form_that_raises_without_a_failing_element_raises_its_error() -> None:
    class Flaky(Batched):
        def __seqkit_map_batch__(self, xs: list[int], num_parallel_calls: int) -> list[int]:
            raise ValueError("only the batch form fails")

    p = read_sequence(list(range(10))).map(Flaky()).and_return()
    with pytest.raises(DataPipelineError, match="only the batch form fails") as info:
        next(p)
    assert info.value.example_index == 0


def _builders(n: int) -> list[Any]:
    return [
        lambda: read_sequence(list(range(n))).map(square).and_return(),
        lambda: read_sequence(list(range(n))).map(square, num_parallel_calls=2).and_return(),
        lambda: read_sequence(list(range(n))).map(Batched(), num_parallel_calls=2).and_return(),
        lambda: read_sequence(list(range(n))).map(Ragged()).bucket(3).and_return(),
    ]


@pytest.mark.parametrize("which", range(4))
def test_resume_at_every_position_equals_uninterrupted(which: int) -> None:
    build = _builders(70)[which]
    expected = check_resume_everywhere(build)
    assert len(expected) in (70, 24)


def test_resume_mid_chunk_replays_the_pending_inputs() -> None:
    fn = Batched()
    p = read_sequence(list(range(2000))).map(fn, num_parallel_calls=2).and_return()
    head = [next(p) for _ in range(777)]
    state = pickle.loads(pickle.dumps(p.state_dict()))
    resumed: DataPipeline = read_sequence(list(range(2000))).map(Batched()).and_return()
    resumed.load_state_dict(state)
    assert head + drain(resumed) == [x * 3 + 1 for x in range(2000)]
