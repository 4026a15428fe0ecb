"""Pipeline states are plain data: never pickled when saved, never unpickled when loaded."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from seqkit.data import DataPipeline, DataPipelineStateError, read_sequence
from tests.data.conftest import check_resume_everywhere


class Opaque:
    def __init__(self, value: int) -> None:
        self.value = value


class _CreatesFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def test_plain_values_beyond_the_native_types_survive_state() -> None:
    # Ints past int64, strs with lone surrogates and dicts with non-str keys are plain data
    # the pipeline holds as Python objects; their states are tagged plain values.
    items: list[object] = [
        2**70,
        -(2**65),
        "bad \udcff utf-8",
        {1: "one", (2, 3): [4, 5], None: {"x": 2**80}},
        b"bytes",
        1.5,
        None,
        (1, "a"),
    ]
    out = check_resume_everywhere(lambda: read_sequence(items).shuffle(3, seed=1).and_return())
    assert sorted(map(repr, out)) == sorted(map(repr, items))


def _opaque_pipeline() -> DataPipeline:
    return read_sequence([{"id": i, "obj": Opaque(i)} for i in range(8)]).shuffle(4).and_return()


def test_an_opaque_object_in_a_buffer_fails_state_dict_naming_the_operator() -> None:
    pipeline = _opaque_pipeline()
    next(pipeline)
    with pytest.raises(DataPipelineStateError) as info:
        pipeline.state_dict()
    message = str(info.value)
    assert "operator 'shuffle'" in message
    assert "type 'Opaque'" in message
    assert "buffer[0].obj" in message
    assert "Map the elements to plain data" in message
    assert "save by position" in message


def test_a_pickle_in_a_state_is_refused_without_running_it(tmp_path: Path) -> None:
    def build() -> DataPipeline:
        return read_sequence(range(10)).shuffle(4, seed=0).and_return()

    pipeline = build()
    next(pipeline)
    state = pipeline.state_dict()
    marker = tmp_path / "code-ran"
    shuffle = state["pipeline"]
    assert shuffle["op"] == "shuffle"
    shuffle["buffer"][0] = {"__pickle__": pickle.dumps(_CreatesFile(marker))}
    fresh = build()
    with pytest.raises(DataPipelineStateError, match=r"'__pickle__'\), which seqkit never"):
        fresh.load_state_dict(state)
    assert not marker.exists()
    # A pickle hidden inside a tagged value is refused the same way.
    shuffle["buffer"][0] = {"__dict_items__": [({"__pickle__": b"x"}, 1)]}
    with pytest.raises(DataPipelineStateError, match="never unpickles"):
        build().load_state_dict(state)
