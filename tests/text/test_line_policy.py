from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqkit.data import read_text
from seqkit.text.line_policy import (
    LineReport,
    SkipReason,
    classify,
    classify_batch,
    iter_clean_lines,
)

_LINE = st.one_of(
    st.text(
        alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)),
        max_size=12,
    ).map(str.encode),
    st.sampled_from([b"\xff", b"ab\xc3", b"  ", b"", b"caf\xc3\xa9", b"x\ry"]),
)


def _reference(data: bytes) -> list[str | bytes]:
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    out: list[str | bytes] = []
    for raw in parts:
        raw = raw[:-1] if raw.endswith(b"\r") else raw
        try:
            out.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(raw)
    return out


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(_LINE, max_size=30),
    crlf=st.booleans(),
    final_newline=st.booleans(),
    batch_lines=st.integers(1, 7),
)
def test_native_report_mode_matches_a_plain_split(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[bytes],
    crlf: bool,
    final_newline: bool,
    batch_lines: int,
) -> None:
    ending = b"\r\n" if crlf else b"\n"
    data = ending.join(lines) + (ending if final_newline and lines else b"")
    path = tmp_path_factory.mktemp("lines") / "t.txt"
    path.write_bytes(data)
    pipeline = read_text(path, encoding_errors="report").bucket(batch_lines).and_return()
    batches = list(pipeline)
    assert all(len(b) == batch_lines for b in batches[:-1])
    assert [line for batch in batches for line in batch] == _reference(data)


def test_classification_rules() -> None:
    assert classify(b"\xff", max_bytes=None) is SkipReason.INVALID_UTF8
    assert classify(" \t", max_bytes=None) is SkipReason.EMPTY
    assert classify("ééé", max_bytes=5) is SkipReason.TOO_LONG  # 3 chars, 6 bytes
    assert classify("ééé", max_bytes=6) == "ééé"
    lines: list[str | bytes] = ["ok", "", b"\xfe", "é" * 10, "fine"]
    assert classify_batch(lines, max_bytes=12) == [
        (1, SkipReason.EMPTY),
        (2, SkipReason.INVALID_UTF8),
        (3, SkipReason.TOO_LONG),
    ]


def test_iter_clean_lines_counts_and_locates_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes(b"one\n\xff bad\n  \ntwo\r\n" + b"x" * 50 + b"\nthree")
    report = LineReport()
    assert list(iter_clean_lines(path, report, max_bytes=20, batch_lines=2)) == [
        "one",
        "two",
        "three",
    ]
    assert report.to_dict() == {
        "lines_read": 6,
        "lines_kept": 3,
        "lines_skipped": 3,
        "skipped": {"empty": 1, "invalid_utf8": 1, "too_long": 1},
        "skipped_examples": {
            "empty": [f"{path}:3"],
            "invalid_utf8": [f"{path}:2"],
            "too_long": [f"{path}:5"],
        },
    }


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.txt").write_bytes(b"")
    report = LineReport()
    assert list(iter_clean_lines(tmp_path / "e.txt", report)) == []
    assert report.lines_read == 0


_TEXT = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["", " ", "\u3000", "\u00a0x", "\t\u2028", "é" * 3, "x\u3000"]),
    st.binary(max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(_TEXT, max_size=20), max_bytes=st.one_of(st.none(), st.integers(1, 16)))
def test_batch_classification_equals_per_line(
    lines: list[str | bytes], max_bytes: int | None
) -> None:
    expected = [
        (i, result)
        for i, line in enumerate(lines)
        if isinstance(result := classify(line, max_bytes=max_bytes), SkipReason)
    ]
    assert classify_batch(lines, max_bytes=max_bytes) == expected
