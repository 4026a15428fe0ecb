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


def iter_raw_lines(path: Path, *, chunk_lines: int) -> Iterator[list[bytes]]:
    """Yield the lines of ``path`` as bytes without endings, ``chunk_lines`` at a time."""
    pending: list[bytes] = []
    tail = b""
    with path.open("rb") as file:
        while block := file.read(_BLOCK_BYTES):
            parts = (tail + block).split(b"\n")
            tail = parts.pop()
            pending.extend(parts)
            while len(pending) >= chunk_lines:
                chunk, pending = pending[:chunk_lines], pending[chunk_lines:]
                yield [_strip_cr(line) for line in chunk]
    if tail:
        pending.append(tail)
    if pending:
        yield [_strip_cr(line) for line in pending]


def _strip_cr(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\r") else line


def classify(raw: bytes, *, max_bytes: int | None) -> str | SkipReason:
    """Decode ``raw`` or say why it is skipped (checks run in the order of :class:`SkipReason`)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return SkipReason.INVALID_UTF8
    if not text.strip():
        return SkipReason.EMPTY
    if max_bytes is not None and len(raw) > max_bytes:
        return SkipReason.TOO_LONG
    return text


def classify_chunk(
    raws: list[bytes], *, max_bytes: int | None
) -> tuple[list[str | None], list[tuple[int, SkipReason]]]:
    """Classify a chunk of lines: the texts (``None`` where skipped) and ``(index, reason)``.

    Same result as :func:`classify` on each line, but decodes the chunk in one call when it
    is valid UTF-8 (the common case) and looks closer only at suspicious lines.
    """
    try:
        # Joining valid lines with '\n' is valid, and an invalid line stays invalid.
        decoded = b"\n".join(raws).decode("utf-8").split("\n")
    except UnicodeDecodeError:
        results = [classify(raw, max_bytes=max_bytes) for raw in raws]
        bad = [(i, r) for i, r in enumerate(results) if isinstance(r, SkipReason)]
        return [None if isinstance(r, SkipReason) else r for r in results], bad
    # A character takes 1 to 4 UTF-8 bytes, so only lines over max_bytes / 4 characters
    # can be over max_bytes bytes.
    chars = len(max(raws, key=len, default=b"")) + 1 if max_bytes is None else max_bytes // 4
    suspects = [i for i, t in enumerate(decoded) if not t or t.isspace() or len(t) > chars]
    texts: list[str | None] = list(decoded)
    skipped: list[tuple[int, SkipReason]] = []
    for i in suspects:
        result = classify(raws[i], max_bytes=max_bytes)
        if isinstance(result, SkipReason):
            skipped.append((i, result))
            texts[i] = None
    return texts, skipped


def iter_clean_lines(
    path: Path, report: LineReport, *, max_bytes: int | None = None, chunk_lines: int = 8192
) -> Iterator[str]:
    """Yield the good lines of ``path``, recording skipped ones in ``report``."""
    line_no = 0
    for chunk in iter_raw_lines(path, chunk_lines=chunk_lines):
        for raw in chunk:
            line_no += 1
            report.lines_read += 1
            result = classify(raw, max_bytes=max_bytes)
            if isinstance(result, SkipReason):
                report.skip(result, f"{path}:{line_no}")
                continue
            report.lines_kept += 1
            yield result
