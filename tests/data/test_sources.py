from __future__ import annotations

from pathlib import Path

import pytest

from seqkit.data import (
    DataPipelineError,
    DataReadError,
    concat,
    constant,
    count,
    count_lines,
    lines_to_check,
    list_files,
    read_sequence,
    read_text,
    round_robin,
    sample,
    utf8_size,
    zip,
)
from tests.data.conftest import BIBLE, check_resume_everywhere, drain


def test_read_sequence_yields_items_and_resets() -> None:
    p = read_sequence([1, "a", 2.5, None, b"x", (1, 2), {"k": [1, 2]}]).and_return()
    assert list(p) == [1, "a", 2.5, None, b"x", (1, 2), {"k": [1, 2]}]
    assert list(p) == []
    p.reset()
    assert next(p) == 1


def test_read_sequence_keeps_python_objects() -> None:
    obj = object()
    assert next(read_sequence([obj]).and_return()) is obj


def test_read_text_matches_python(tmp_path: Path, bible_lines: list[str]) -> None:
    path = tmp_path / "a.txt"
    path.write_text("\n".join(bible_lines) + "\n", encoding="utf-8")
    assert list(read_text(path).and_return()) == bible_lines


def test_read_text_crlf_rtrim_skip_empty(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"one  \r\n\r\n two\r\nlast")
    assert list(read_text(path).and_return()) == ["one  ", "", " two", "last"]
    trimmed = read_text(path, rtrim=True, skip_empty=True).and_return()
    assert list(trimmed) == ["one", " two", "last"]
    assert list(read_text(path, ltrim=True, rtrim=True).and_return()) == ["one", "", "two", "last"]


def test_read_text_encoding_policies(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good\nba\xffd\n")
    assert list(read_text(path, encoding_errors="replace").and_return()) == ["good", "ba\ufffdd"]
    assert list(read_text(path, encoding_errors="ignore").and_return()) == ["good", "bad"]
    p = read_text(path).and_return()
    assert next(p) == "good"
    with pytest.raises(DataPipelineError, match="line 2") as info:
        next(p)
    assert info.value.operator == "read_text"
    assert info.value.example_index == 1
    assert p.is_broken
    with pytest.raises(DataPipelineError, match="broken"):
        next(p)
    p.reset()
    assert next(p) == "good"


def test_read_text_report_mode_yields_bad_lines_as_bytes(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good\nba\xffd\r\n\n\xc3\xa9t\xc3\xa9\ncut \xe2\x82")
    expected = ["good", b"ba\xffd", "", "\u00e9t\u00e9", b"cut \xe2\x82"]
    assert list(read_text(path, encoding_errors="report").and_return()) == expected
    # The bytes are the raw line: consumers count lines and report the bad ones by number.
    check_resume_everywhere(lambda: read_text(path, encoding_errors="report").and_return())


def test_count_lines_and_utf8_size_agree_with_read_text(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    path.write_bytes("añb\n\n🙂\r\n".encode() + b"\xff\xfex\nlast")
    lines = list(read_text(path, encoding_errors="report").and_return())
    assert count_lines(path) == len(lines) == 5
    # UTF-8 bytes, not characters: the \r\n and \n endings are the only bytes not counted.
    assert utf8_size(lines) == path.stat().st_size - 5
    assert utf8_size(["é", b"\xff"]) == 3
    with pytest.raises(TypeError, match="item 0"):
        utf8_size([1])  # type: ignore[list-item]


def test_lines_to_check_finds_bytes_blank_and_long_lines() -> None:
    lines: list[str | bytes] = ["ok", "", b"\xff", " \u3000\t", "longer", "\u00a0x", "é"]
    assert lines_to_check(lines, max_chars=5) == [1, 2, 3, 4]
    assert lines_to_check(lines, max_chars=100) == [1, 2, 3]


def test_read_text_rejects_unknown_policy(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("a\n")
    with pytest.raises(ValueError, match="'report'"):
        read_text(path, encoding_errors="surrogateescape")  # type: ignore[arg-type]


def test_read_text_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataReadError, match=r"missing\.txt"):
        read_text(tmp_path / "missing.txt")


def test_read_text_shard_splits_bytes_at_source(tmp_path: Path) -> None:
    lines = [f"line {i}" * (i % 7 + 1) for i in range(101)]
    path = tmp_path / "a.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    shards = []
    for i in range(3):
        p = read_text(path).shard(i, 3).and_return()
        shards.append(list(p))
        assert p.stats()[0]["split_at_source"] == 1
    # Contiguous byte ranges: together exactly the file, in order, no line twice.
    assert shards[0] + shards[1] + shards[2] == lines
    assert all(shards)


def test_read_text_resume(tmp_path: Path, bible_lines: list[str]) -> None:
    path = tmp_path / "a.txt"
    path.write_text("\n".join(bible_lines[:20]), encoding="utf-8")
    check_resume_everywhere(lambda: read_text(path).and_return())


def test_read_text_real_file_line_count() -> None:
    with open(BIBLE, encoding="utf-8") as f:
        n = sum(1 for _ in f)
    p = read_text(BIBLE).and_return()
    assert sum(1 for _ in p) == n


def test_list_files_sorted_and_filtered(tmp_path: Path) -> None:
    for name in ["b.txt", "a.txt", "c.json", "sub/d.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    got = list(list_files(tmp_path, pattern="*.txt").and_return())
    names = [Path(p).relative_to(tmp_path).as_posix() for p in got]
    assert names == ["a.txt", "b.txt", "sub/d.txt"]
    with pytest.raises(DataReadError):
        list_files(tmp_path / "nope")


def test_constant_and_count() -> None:
    assert list(constant("x").take(3).and_return()) == ["x", "x", "x"]
    assert list(count(5, 2).take(3).and_return()) == [5, 7, 9]
    check_resume_everywhere(lambda: count(5, 2).take(4).and_return())


def test_zip_tuple_names_flatten_and_lengths() -> None:
    def seq(xs: list[object]):
        return read_sequence(xs).and_return()

    assert list(zip([seq([1, 2]), seq(["a", "b"])]).and_return()) == [(1, "a"), (2, "b")]
    named = zip([seq([1]), seq([2])], names=["x", "y"]).and_return()
    assert list(named) == [{"x": 1, "y": 2}]
    flat = zip([seq([{"a": 1}]), seq([{"b": 2}])], flatten=True).and_return()
    assert list(flat) == [{"a": 1, "b": 2}]
    short = zip([seq([1, 2, 3]), seq([1])], zip_to_shortest=True).and_return()
    assert list(short) == [(1, 1)]
    uneven = zip([seq([1, 2]), seq([1])]).and_return()
    next(uneven)
    with pytest.raises(DataPipelineError, match="different lengths"):
        next(uneven)


def test_zip_consumes_its_inputs() -> None:
    p = read_sequence([1]).and_return()
    zip([p, read_sequence([2]).and_return()])
    with pytest.raises(ValueError, match="consumed"):
        next(p)


def test_round_robin_repeats_shorter_until_all_ended() -> None:
    a = read_sequence([1, 2, 3]).and_return()
    b = read_sequence(["a"]).and_return()
    assert list(round_robin([a, b]).and_return()) == [1, "a", 2, "a", 3, "a"]
    a = read_sequence([1, 2, 3]).and_return()
    b = read_sequence(["a"]).and_return()
    assert list(round_robin([a, b], stop_at_shortest=True).and_return()) == [1, "a", 2]


def test_sample_is_seeded_and_weighted() -> None:
    def build(seed: int):
        a = constant("a").and_return()
        b = constant("b").and_return()
        return sample([a, b], [0.8, 0.2], seed=seed).take(2000).and_return()

    first = list(build(3))
    assert first == list(build(3))
    assert first != list(build(4))
    assert 0.75 < first.count("a") / 2000 < 0.85
    check_resume_everywhere(lambda: build(3), positions=[0, 1, 777, 2000])
    with pytest.raises(ValueError, match="weight"):
        sample([constant(1).and_return()], [0.0])


def test_sample_ends_when_every_input_ended() -> None:
    a = read_sequence([1, 2]).and_return()
    b = read_sequence([10, 20, 30]).and_return()
    out = list(sample([a, b], [0.5, 0.5], seed=1).and_return())
    assert set(out) <= {1, 2, 10, 20, 30}
    assert {10, 20, 30} <= set(out) or {1, 2} <= set(out)


def test_concat_and_resume() -> None:
    def build():
        parts = [read_sequence([1, 2]).and_return(), read_sequence([3]).and_return()]
        return concat(parts).and_return()

    assert drain(build()) == [1, 2, 3]
    check_resume_everywhere(build)


def test_read_text_offsets_past_4_gib(tmp_path: Path) -> None:
    # A sparse file: 4.5 GiB of hole, then two lines; the last shard starts past 2**32.
    path = tmp_path / "big.txt"
    size = 4 * 2**30 + 2**29
    with open(path, "wb") as f:
        f.truncate(size)
        f.seek(size)
        f.write(b"\nhello\nworld\n")
    p = read_text(path).shard(999, 1000).and_return()
    assert list(p) == ["hello", "world"]
    offset = p.state_dict()["pipeline"]["inputs"][0]["offset"]
    assert offset > 2**32
