from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqkit.text import lines as lines_module
from seqkit.text.lines import LineChunkReader, SkipReason, classify, classify_chunk

_LINE = st.one_of(
    st.text(
        alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=["Cs"]),
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
    chunk_lines=st.integers(1, 7),
    block=st.integers(1, 16),
)
def test_reader_matches_a_plain_split(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[bytes],
    crlf: bool,
    final_newline: bool,
    chunk_lines: int,
    block: int,
) -> None:
    ending = b"\r\n" if crlf else b"\n"
    data = ending.join(lines) + (ending if final_newline and lines else b"")
    path = tmp_path_factory.mktemp("lines") / "t.txt"
    path.write_bytes(data)
    original = lines_module._BLOCK_BYTES
    lines_module._BLOCK_BYTES = block  # tiny blocks: lines straddle block boundaries
    try:
        reader = LineChunkReader(path, chunk_lines=chunk_lines)
        chunks = list(reader)
    finally:
        lines_module._BLOCK_BYTES = original
    assert all(len(c) == chunk_lines for c in chunks[:-1])
    assert [line for chunk in chunks for line in chunk] == _reference(data)
    assert reader.bytes_read == len(data)


def test_classification_rules() -> None:
    assert classify(b"\xff", max_bytes=None) is SkipReason.INVALID_UTF8
    assert classify(" \t", max_bytes=None) is SkipReason.EMPTY
    assert classify("ééé", max_bytes=5) is SkipReason.TOO_LONG  # 3 chars, 6 bytes
    assert classify("ééé", max_bytes=6) == "ééé"
    lines: list[str | bytes] = ["ok", "", b"\xfe", "é" * 10, "fine"]
    _, skipped = classify_chunk(lines, max_bytes=12)
    assert skipped == [
        (1, SkipReason.EMPTY),
        (2, SkipReason.INVALID_UTF8),
        (3, SkipReason.TOO_LONG),
    ]


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.txt").write_bytes(b"")
    assert list(LineChunkReader(tmp_path / "e.txt", chunk_lines=4)) == []
