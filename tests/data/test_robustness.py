from __future__ import annotations

import _thread
import gc
import subprocess
import sys
import threading
import time
from fractions import Fraction

import pytest

from seqkit.data import DataPipelineError, DataPipelineStateError, read_sequence
from tests.data.conftest import check_resume_everywhere


def test_parallel_map_prefetch_stress() -> None:
    def slow_square(x: int) -> int:
        if x % 17 == 0:
            time.sleep(0.0005)  # uneven call times shuffle completion order
        return x * x

    p = (
        read_sequence(range(3000))
        .map(slow_square, num_parallel_calls=8)
        .prefetch(16)
        .map(lambda x: x + 1, num_parallel_calls=4)
        .bucket(7)
        .prefetch(3)
        .and_return()
    )
    for _ in range(2):
        flat = [x for batch in p for x in batch]
        assert flat == [x * x + 1 for x in range(3000)]
        p.reset()


def test_exception_in_parallel_map_behind_prefetch() -> None:
    def fn(x: int) -> int:
        if x == 123:
            raise ValueError("bad example")
        return x

    p = read_sequence(range(1000)).map(fn, num_parallel_calls=4).prefetch(8).and_return()
    got = []
    with pytest.raises(DataPipelineError, match="bad example") as info:
        got.extend(p)
    assert got == list(range(123))
    assert isinstance(info.value.__cause__, ValueError)
    assert p.is_broken
    with pytest.raises(DataPipelineError, match="broken"):
        next(p)
    p.reset()
    assert next(p) == 0


def test_drop_mid_iteration_does_not_hang() -> None:
    for _ in range(20):
        p = (
            read_sequence(range(10_000))
            .map(lambda x: x, num_parallel_calls=4)
            .prefetch(32)
            .and_return()
        )
        next(p)
        del p
    gc.collect()
    assert threading.active_count() < 10


def test_repeated_reset_does_not_leak_threads() -> None:
    p = read_sequence(range(100)).map(lambda x: x, num_parallel_calls=2).prefetch(4).and_return()
    before = threading.active_count()
    for _ in range(50):
        next(p)
        p.reset()
    assert threading.active_count() <= before + 1
    assert list(p) == list(range(100))


def test_state_loaded_into_a_different_pipeline_names_the_operator() -> None:
    state = read_sequence([1]).shuffle(2).and_return().state_dict()
    other = read_sequence([1]).bucket(2).and_return()
    with pytest.raises(DataPipelineStateError, match=r"'shuffle'.*'bucket'"):
        other.load_state_dict(state)
    with pytest.raises(DataPipelineStateError, match="format"):
        other.load_state_dict({"nope": 1})


def _as_pair(x: Fraction) -> tuple[int, int]:
    return (x.numerator, x.denominator)


def test_python_objects_in_buffers_are_refused_by_state_dict() -> None:
    # States are plain data, never pickled: an opaque object in a buffer cannot be saved.
    items = [Fraction(i, 3) for i in range(12)]

    def build(plain_data: bool):
        if plain_data:  # Fractions as (numerator, denominator), rebuilt inside the map
            source = read_sequence([(x.numerator, x.denominator) for x in items])
            builder = source.map(lambda t: _as_pair(Fraction(*t) * 2), num_parallel_calls=3)
        else:
            builder = read_sequence(items).map(lambda x: x * 2, num_parallel_calls=3)
        return builder.shuffle(4, seed=5).prefetch(2).and_return()

    pipeline = build(plain_data=False)
    next(pipeline)
    with pytest.raises(DataPipelineStateError, match=r"holds a Python object of type 'Fraction'"):
        pipeline.state_dict()
    assert len(list(pipeline)) == 11  # the failed save does not break the pipeline

    # The same pipeline over plain data (mapped before the buffers) resumes exactly.
    out = check_resume_everywhere(lambda: build(plain_data=True))
    assert sorted(Fraction(*x) for x in out) == [x * 2 for x in items]


def test_ctrl_c_while_waiting_on_background_work() -> None:
    release = threading.Event()

    def blocked(x: int) -> int:
        release.wait(30)
        return x

    p = read_sequence(range(4)).map(blocked, num_parallel_calls=2).prefetch(2).and_return()
    # Simulates SIGINT arriving while the main thread waits inside next().
    threading.Timer(0.2, _thread.interrupt_main).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            next(p)
    finally:
        release.set()
    assert p.is_broken
    p.reset()
    assert list(p) == [0, 1, 2, 3]


EXIT_SCRIPT = """
import time
from seqkit.data import read_sequence

def slow(x):
    time.sleep(0.001)
    return x

p = read_sequence(range(100000)).map(slow, num_parallel_calls=2).prefetch(64).and_return()
next(p)
q = read_sequence([object()] * 1000).map(lambda o: o).prefetch(8).and_return()
next(q)
print("exiting")
"""


def test_interpreter_exit_with_live_background_threads() -> None:
    # Regression: threads taking the GIL during finalization aborted the process.
    for _ in range(3):
        result = subprocess.run(
            [sys.executable, "-c", EXIT_SCRIPT], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "exiting"
