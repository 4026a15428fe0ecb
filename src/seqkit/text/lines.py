"""Reading corpus lines as bytes, with the bad-line policy shared by training and binarization.

Policy: a line is *skipped, counted and reported* (never silently dropped) when it is not
valid UTF-8, when it is empty or only whitespace, or when it is over-long (longer than the
caller's limit, in bytes before encoding or in tokens after). Line endings ``\\n`` and
``\\r\\n`` are removed; nothing else is stripped.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, final

# 4 MiB reads keep memory flat on any corpus size while amortizing the syscall cost.
_BLOCK_BYTES: Final = 4 << 20
MAX_EXAMPLES: Final = 10
"""How many line numbers per skip reason a report keeps."""


class SkipReason(enum.Enum):
    """Why a line was left out."""

    INVALID_UTF8 = "invalid_utf8"
    EMPTY = "empty"
    TOO_LONG = "too_long"


@final
@dataclass(kw_only=True)
class LineReport:
    """Counts of read, kept and skipped lines of one corpus (or of a parallel pair)."""

    lines_read: int = 0
    """Lines read from the input."""

    lines_kept: int = 0
    """Lines that became documents."""

    skipped: dict[str, int] = field(default_factory=dict)
    """Skipped lines per :class:`SkipReason` value."""

    examples: dict[str, list[str]] = field(default_factory=dict)
    """Where the first skipped lines of each reason are (``file:line``)."""

    def skip(self, reason: SkipReason, where: str) -> None:
        """Record one skipped line."""
        self.skipped[reason.value] = self.skipped.get(reason.value, 0) + 1
        examples = self.examples.setdefault(reason.value, [])
        if len(examples) < MAX_EXAMPLES:
            examples.append(where)

    @property
    def lines_skipped(self) -> int:
        """Total number of skipped lines."""
        return sum(self.skipped.values())

    def summary(self) -> str:
        """One line for humans: ``kept 10 of 12 lines; skipped: empty 2 (a.txt:4, ...)``."""
        text = f"kept {self.lines_kept} of {self.lines_read} lines"
        if not self.skipped:
            return text + "; none skipped"
        parts = [
            f"{reason} {count} ({', '.join(self.examples.get(reason, [])[:3])})"
            for reason, count in sorted(self.skipped.items())
        ]
        return text + "; skipped: " + "; ".join(parts)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form for manifests."""
        return {
            "lines_read": self.lines_read,
            "lines_kept": self.lines_kept,
            "lines_skipped": self.lines_skipped,
            "skipped": dict(sorted(self.skipped.items())),
            "skipped_examples": dict(sorted(self.examples.items())),
        }


@final
class LineChunkReader:
    """Reads ``path`` in ``chunk_lines``-line chunks: ``str`` lines, or ``bytes`` where a line
    is not valid UTF-8. Line endings are removed.

    Blocks are decoded whole (one call per 4 MiB in the common, valid case), which is what
    keeps reading cheap next to tokenization.
    """

    def __init__(self, path: Path, *, chunk_lines: int) -> None:
        self._path = path
        self._chunk_lines = chunk_lines
        self.bytes_read = 0
        """Bytes consumed so far (for progress bars)."""

    def __iter__(self) -> Iterator[list[str | bytes]]:
        size = self._chunk_lines
        pending: list[str | bytes] = []
        tail = b""
        with self._path.open("rb") as file:
            while block := file.read(_BLOCK_BYTES):
                self.bytes_read += len(block)
                data = tail + block
                cut = data.rfind(b"\n")
                if cut < 0:
                    tail = data
                    continue
                tail = data[cut + 1 :]
                pending.extend(_decode_lines(data[:cut]))
                if len(pending) >= size:
                    full = len(pending) - len(pending) % size
                    for start in range(0, full, size):
                        yield pending[start : start + size]
                    pending = pending[full:]
        if tail:
            pending.extend(_decode_lines(tail))
        for start in range(0, len(pending), size):
            yield pending[start : start + size]


def _decode_lines(body: bytes) -> list[str | bytes]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return [_decode_line(line) for line in body.split(b"\n")]
    lines: list[str | bytes] = list(text.split("\n"))
    if "\r" in text:
        lines = [
            line[:-1] if isinstance(line, str) and line.endswith("\r") else line for line in lines
        ]
    return lines


def _decode_line(raw: bytes) -> str | bytes:
    raw = raw[:-1] if raw.endswith(b"\r") else raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def classify(line: str | bytes, *, max_bytes: int | None) -> str | SkipReason:
    """``line`` if it is kept, else why it is skipped (checks in :class:`SkipReason` order).

    ``line`` is what :class:`LineChunkReader` yields: ``bytes`` means invalid UTF-8.
    """
    if isinstance(line, bytes):
        return SkipReason.INVALID_UTF8
    if not line.strip():
        return SkipReason.EMPTY
    # A character takes 1 to 4 UTF-8 bytes: only check bytes when the length allows it.
    if max_bytes is not None and len(line) * 4 > max_bytes and len(line.encode()) > max_bytes:
        return SkipReason.TOO_LONG
    return line


def classify_chunk(
    lines: list[str | bytes], *, max_bytes: int | None
) -> tuple[list[str | bytes], list[tuple[int, SkipReason]]]:
    """Classify a chunk: ``lines`` unchanged, and ``(index, reason)`` of each skipped line.

    Same result as :func:`classify` on each line; only suspicious lines (not ``str``,
    blank, or long) get a closer look.
    """
    chars = 1 << 62 if max_bytes is None else max_bytes // 4
    suspects = [
        i
        for i, t in enumerate(lines)
        if t.__class__ is not str or not t or t.isspace() or len(t) > chars
    ]
    skipped: list[tuple[int, SkipReason]] = []
    for i in suspects:
        result = classify(lines[i], max_bytes=max_bytes)
        if isinstance(result, SkipReason):
            skipped.append((i, result))
    return lines, skipped


def iter_clean_lines(
    path: Path, report: LineReport, *, max_bytes: int | None = None, chunk_lines: int = 8192
) -> Iterator[str]:
    """Yield the good lines of ``path``, recording skipped ones in ``report``."""
    line_no = 0
    for chunk in LineChunkReader(path, chunk_lines=chunk_lines):
        for line in chunk:
            line_no += 1
            report.lines_read += 1
            result = classify(line, max_bytes=max_bytes)
            if isinstance(result, SkipReason):
                report.skip(result, f"{path}:{line_no}")
                continue
            report.lines_kept += 1
            yield result
