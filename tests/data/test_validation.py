"""Builder arguments are validated when the builder method is called, and saved states
refuse to load into a pipeline built differently (or over a changed file)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from seqkit.data import (
    DataPipelineBuilder,
    DataPipelineStateError,
    count,
    read_sequence,
    read_text,
    sample,
    zip,
)


def run_isolated(body: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Runs `body` in a fresh interpreter: a crash there must not take pytest down."""
    script = "from seqkit.data import read_sequence, read_text\n" + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


CRASHES = {
    # Each of these once crashed or hung the process (SIGFPE, segfault, infinite loop).
    "read_text_shard_0_of_0": "read_text('f.txt').shard(0, 0).and_return()",
    "read_sequence_shard_negative": "list(read_sequence(range(10)).shard(-1, 2).and_return())",
    "read_sequence_shard_0_of_0": "list(read_sequence(range(10)).shard(0, 0).and_return())",
    "bucket_by_length_empty": "list(read_sequence([[1]]).bucket_by_length([]).and_return())",
    "bucket_minus_one": "list(read_sequence(range(3)).bucket(-1).and_return())",
}


@pytest.mark.parametrize("name", sorted(CRASHES))
def test_bad_argument_is_a_value_error_not_a_crash(name: str, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("a\nb\nc\n")
    body = f"""
    try:
        {CRASHES[name]}
    except ValueError as e:
        print("ValueError:", e)
    else:
        print("accepted")
    """
    try:
        result = run_isolated(body, tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name}: hung")
    assert result.returncode == 0, f"{name}: exit {result.returncode}\n{result.stderr}"
    assert result.stdout.startswith("ValueError:"), result.stdout + result.stderr


def seq() -> DataPipelineBuilder:
    return read_sequence(range(10))


# (builder call, the argument name and the value the message must name)
BAD_ARGUMENTS: list[tuple[str, Callable[[], object], str, str]] = [
    ("bucket(0)", lambda: seq().bucket(0), "bucket_size", "0"),
    ("bucket(-1)", lambda: seq().bucket(-1), "bucket_size", "-1"),
    ("take(-1)", lambda: seq().take(-1), "num_examples", "-1"),
    ("skip(-1)", lambda: seq().skip(-1), "num_examples", "-1"),
    ("shuffle(-5)", lambda: seq().shuffle(-5), "shuffle_window", "-5"),
    ("pack(0)", lambda: seq().pack(0), "seq_len", "0"),
    ("shard(5, 2)", lambda: seq().shard(5, 2), "shard_idx", "5"),
    ("shard(2, 2)", lambda: seq().shard(2, 2), "shard_idx", "2"),
    ("shard(-1, 2)", lambda: seq().shard(-1, 2), "shard_idx", "-1"),
    ("shard(0, 0)", lambda: seq().shard(0, 0), "num_shards", "0"),
    ("shard(0, -3)", lambda: seq().shard(0, -3), "num_shards", "-3"),
    ("repeat(-1)", lambda: seq().repeat(-1), "num_repeats", "-1"),
    ("prefetch(-1)", lambda: seq().prefetch(-1), "num_examples", "-1"),
    ("map(n=0)", lambda: seq().map(abs, num_parallel_calls=0), "num_parallel_calls", "0"),
    ("map(n=-2)", lambda: seq().map(abs, num_parallel_calls=-2), "num_parallel_calls", "-2"),
    ("collate(0)", lambda: seq().collate(pad_to_multiple=0), "pad_to_multiple", "0"),
    ("bucket_by_length([])", lambda: seq().bucket_by_length([]), "bucket_sizes", "[]"),
    (
        "bucket_by_length size 0",
        lambda: seq().bucket_by_length([(0, 4)]),
        "bucket_sizes",
        "0",
    ),
    (
        "bucket_by_length length 0",
        lambda: seq().bucket_by_length([(2, 0)]),
        "bucket_sizes",
        "0",
    ),
    (
        "bucket_by_length min_data_len",
        lambda: seq().bucket_by_length([(2, 4)], min_data_len=-1),
        "min_data_len",
        "-1",
    ),
    (
        "bucket_by_length min_data_len above max",
        lambda: seq().bucket_by_length([(2, 4)], min_data_len=5),
        "min_data_len",
        "5",
    ),
    ("count(step=0)", lambda: count(0, 0), "step", "0"),
    (
        "sample negative weight",
        lambda: sample([seq().and_return(), seq().and_return()], [1.0, -1.0]),
        "weight",
        "-1",
    ),
    (
        "zip names",
        lambda: zip([seq().and_return(), seq().and_return()], names=["a"]),
        "names",
        "1",
    ),
    (
        "zip duplicate names",
        lambda: zip([seq().and_return(), seq().and_return()], names=["a", "a"]),
        "names",
        "'a'",
    ),
]


@pytest.mark.parametrize(
    ("call", "argument", "value"),
    [pytest.param(c, a, v, id=i) for i, c, a, v in BAD_ARGUMENTS],
)
def test_bad_argument_raises_when_the_builder_method_is_called(
    call: Callable[[], object], argument: str, value: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(argument)) as info:
        call()
    assert value in str(info.value)


def test_filter_and_yield_from_need_callables() -> None:
    with pytest.raises(TypeError, match="predicate must be callable"):
        seq().filter(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fn must be callable"):
        seq().yield_from(3)  # type: ignore[arg-type]


def test_a_refused_zip_or_sample_leaves_its_pipelines_usable() -> None:
    a, b = seq().and_return(), seq().and_return()
    with pytest.raises(ValueError, match="distinct"):
        zip([a, b], names=["x", "x"])
    assert list(zip([a, b], names=["x", "y"]).take(1).and_return()) == [{"x": 0, "y": 0}]


def test_edge_values_are_accepted() -> None:
    assert list(seq().take(0).and_return()) == []
    assert list(seq().skip(0).and_return()) == list(range(10))
    assert list(seq().repeat(0).and_return()) == []
    assert list(seq().prefetch(0).and_return()) == list(range(10))
    assert sorted(seq().shuffle(0).and_return()) == list(range(10))
    assert list(seq().shard(1, 2).and_return()) == [1, 3, 5, 7, 9]
    assert list(seq().bucket(10).and_return()) == [list(range(10))]
    pipe = read_sequence([[1], [1, 2]]).bucket_by_length([(2, 2)], min_data_len=0).and_return()
    assert list(pipe) == [[[1], [1, 2]]]


# ---------------------------------------------------------------------- state mismatches


def test_shuffle_state_refuses_another_window() -> None:
    p = seq().shuffle(10, seed=1).and_return()
    next(p)
    state = p.state_dict()
    q = seq().shuffle(20, seed=1).and_return()
    with pytest.raises(DataPipelineStateError, match=r"shuffle.*window.*10.*20"):
        q.load_state_dict(state)
    same = seq().shuffle(10, seed=1).and_return()
    same.load_state_dict(state)
    assert sorted([*list(same), next(seq().shuffle(10, seed=1).and_return())]) == list(range(10))


def test_read_sequence_state_refuses_another_length() -> None:
    p = read_sequence(range(100)).and_return()
    for _ in range(50):
        next(p)
    q = read_sequence(range(10)).and_return()
    with pytest.raises(DataPipelineStateError, match=r"read_sequence.*100.*10"):
        q.load_state_dict(p.state_dict())


def test_read_sequence_state_refuses_other_items_of_the_same_length() -> None:
    p = read_sequence(["a", "b", "c"]).and_return()
    next(p)
    q = read_sequence(["x", "y", "z"]).and_return()
    with pytest.raises(DataPipelineStateError, match=r"read_sequence.*differ"):
        q.load_state_dict(p.state_dict())
    same = read_sequence(["a", "b", "c"]).and_return()
    same.load_state_dict(p.state_dict())
    assert list(same) == ["b", "c"]


def test_read_text_refuses_a_rewritten_file(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("alpha\nbravo\ncharlie\ndelta\n")
    p = read_text(path).and_return()
    assert [next(p), next(p)] == ["alpha", "bravo"]
    state = p.state_dict()

    # Same size, other bytes: the offset now falls mid-line.
    path.write_text("alphaa\nbrav\ncharlie\ndelta\n")
    q = read_text(path).and_return()
    with pytest.raises(DataPipelineStateError, match=r"read_text.*f\.txt.*changed"):
        q.load_state_dict(state)

    # Another size.
    path.write_text("alpha\nbravo\ncharlie\ndelta\necho\n")
    q = read_text(path).and_return()
    with pytest.raises(DataPipelineStateError, match=r"f\.txt.*bytes"):
        q.load_state_dict(state)

    # The same file again resumes.
    path.write_text("alpha\nbravo\ncharlie\ndelta\n")
    q = read_text(path).and_return()
    q.load_state_dict(state)
    assert list(q) == ["charlie", "delta"]


def test_read_text_resume_at_end_and_start(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("x\n" * 5000)
    p = read_text(path).and_return()
    start = p.state_dict()
    assert len(list(p)) == 5000
    end = p.state_dict()
    q = read_text(path).and_return()
    q.load_state_dict(end)
    assert list(q) == []
    q.load_state_dict(start)
    assert len(list(q)) == 5000


def as_version_1(state: dict[str, object], drop: set[str]) -> dict[str, object]:
    """A state as seqkit wrote it before states were fingerprinted."""

    def walk(node: object) -> object:
        if not isinstance(node, dict):
            return node
        if node.get("version") == 2 and node.get("op") in (
            "read_sequence",
            "read_text",
            "shuffle",
            "shard",
        ):
            node = {k: v for k, v in node.items() if k not in drop}
            node["version"] = 1
        node = {k: [walk(i) for i in v] if k == "inputs" else v for k, v in node.items()}
        return node

    return {**state, "pipeline": walk(state["pipeline"])}


def test_version_1_states_still_load(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("".join(f"{i}\n" for i in range(40)))

    def build_seq() -> DataPipelineBuilder:
        return read_sequence(range(40)).shuffle(8, seed=3).shard(1, 2)

    def build_text() -> DataPipelineBuilder:
        return read_text(path).map(int).shuffle(8, seed=3).shard(1, 2)

    new_keys = {"window", "length", "fingerprint", "first", "stride", "shard_idx", "num_shards"}
    new_keys |= {"file_size", "begin", "end", "checksum"}
    for build in (build_seq, build_text):
        p = build().and_return()
        head = [next(p) for _ in range(5)]
        old = as_version_1(p.state_dict(), new_keys)
        rest = list(p)
        q = build().and_return()
        q.load_state_dict(old)
        assert list(q) == rest
        assert len(head + rest) == 20

    future = as_version_1(read_sequence([1]).and_return().state_dict(), set())
    future["pipeline"]["version"] = 3  # type: ignore[index]
    with pytest.raises(DataPipelineStateError, match=r"version 3.*versions 1 to 2"):
        read_sequence([1]).and_return().load_state_dict(future)
