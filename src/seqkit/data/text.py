"""Reading text files line by line (memory-mapped, in C++)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from seqkit import _native
from seqkit._native import DataPipelineBuilder
from seqkit.data.errors import DataReadError

EncodingErrors = Literal["strict", "replace", "ignore", "report"]


def read_text(
    path: str | Path,
    *,
    rtrim: bool = False,
    ltrim: bool = False,
    skip_empty: bool = False,
    encoding_errors: EncodingErrors = "strict",
) -> DataPipelineBuilder:
    """Start a pipeline that yields the lines of a UTF-8 text file as ``str``.

    Lines end at ``\\n`` or ``\\r\\n`` (the ending is removed). ``rtrim``/``ltrim`` strip
    whitespace, ``skip_empty`` drops empty lines. Invalid UTF-8 raises an error naming
    the line (``"strict"``), becomes U+FFFD (``"replace"``), is dropped (``"ignore"``),
    or the line comes out unchanged as ``bytes`` (``"report"``), so that a consumer that
    counts lines can report it by number and skip it: the one mode in which no line is
    lost or altered without the consumer knowing.
    The file is memory-mapped, so files over 4 GiB work; a ``shard()`` right after this
    source gives each shard a contiguous byte range of the file instead of reading it all.
    """
    file = Path(path)
    if not file.is_file():
        raise DataReadError(f"the text file '{file}' does not exist or is not a file")
    if encoding_errors not in ("strict", "replace", "ignore", "report"):
        raise ValueError(
            "encoding_errors must be 'strict', 'replace', 'ignore' or 'report', "
            f"not {encoding_errors!r}"
        )
    return _native.read_text(str(file), rtrim, ltrim, skip_empty, encoding_errors)


def count_lines(path: str | Path) -> int:
    """Number of lines :func:`read_text` yields for ``path`` (counted in C++, memory-mapped)."""
    file = Path(path)
    if not file.is_file():
        raise DataReadError(f"the text file '{file}' does not exist or is not a file")
    return _native.count_lines(str(file))


def utf8_size(lines: list[str | bytes]) -> int:
    """Total UTF-8 size in bytes of ``lines`` (``str``, or ``bytes`` counted as they are).

    Nothing is encoded: the size of an ASCII ``str`` is its length, and the lines
    :func:`read_text` makes carry their UTF-8 form already. For byte-accurate progress.
    """
    return _native.utf8_size(lines)


def lines_to_check(lines: list[str | bytes], *, max_chars: int) -> list[int]:
    """Indices of ``lines`` that are ``bytes``, empty, whitespace only (``str.isspace``) or
    longer than ``max_chars`` characters, in order.

    A native pre-filter for line policies (:mod:`seqkit.text.line_policy`): the lines it
    returns get a closer look, the others are certainly fine.
    """
    return _native.lines_to_check(lines, max_chars)
