"""The bad-line policy shared by tokenizer training and binarization.

Policy: a line is *skipped, counted and reported* (never silently dropped) when it is not
valid UTF-8, when it is empty or only whitespace, or when it is over-long (longer than the
caller's limit, in bytes before encoding or in tokens after). Line endings ``\\n`` and
``\\r\\n`` are removed; nothing else is stripped. Lines come from the native
``seqkit.data.read_text(..., encoding_errors="report")``, which yields a line that is not
valid UTF-8 as ``bytes`` instead of failing or repairing it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, final

from seqkit.data import lines_to_check, read_text

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


def classify(line: str | bytes, *, max_bytes: int | None) -> str | SkipReason:
    """``line`` if it is kept, else why it is skipped (checks in :class:`SkipReason` order).

    ``line`` is what ``read_text(..., encoding_errors="report")`` yields: ``bytes`` means
    invalid UTF-8.
    """
    if isinstance(line, bytes):
        return SkipReason.INVALID_UTF8
    if not line.strip():
        return SkipReason.EMPTY
    # A character takes 1 to 4 UTF-8 bytes: only check bytes when the length allows it.
    if max_bytes is not None and len(line) * 4 > max_bytes and len(line.encode()) > max_bytes:
        return SkipReason.TOO_LONG
    return line


def classify_batch(
    lines: Sequence[str | bytes], *, max_bytes: int | None
) -> list[tuple[int, SkipReason]]:
    """``(index, reason)`` of each line of ``lines`` to skip, in order.

    Same result as :func:`classify` on each line; only suspicious lines (``bytes``,
    blank, or long enough that their UTF-8 form might pass ``max_bytes``), found in C++ by
    :func:`seqkit.data.lines_to_check`, get a closer look.
    """
    # A character takes at most 4 UTF-8 bytes: shorter lines cannot pass max_bytes.
    chars = (1 << 62) if max_bytes is None else max_bytes // 4
    suspects = lines_to_check(lines if isinstance(lines, list) else list(lines), max_chars=chars)
    skipped: list[tuple[int, SkipReason]] = []
    for i in suspects:
        result = classify(lines[i], max_bytes=max_bytes)
        if isinstance(result, SkipReason):
            skipped.append((i, result))
    return skipped


def iter_clean_lines(
    path: Path, report: LineReport, *, max_bytes: int | None = None, batch_lines: int = 8192
) -> Iterator[str]:
    """Yield the good lines of ``path`` (read natively), recording skipped ones in ``report``."""
    pipeline = read_text(path, encoding_errors="report").bucket(batch_lines).and_return()
    line_no = 0
    try:
        for batch in pipeline:
            skipped = classify_batch(batch, max_bytes=max_bytes)
            report.lines_read += len(batch)
            report.lines_kept += len(batch) - len(skipped)
            bad = set()
            for i, reason in skipped:
                report.skip(reason, f"{path}:{line_no + i + 1}")
                bad.add(i)
            line_no += len(batch)
            for i, line in enumerate(batch):
                if i not in bad:
                    yield line
    finally:
        pipeline.close()
