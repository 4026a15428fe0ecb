"""JSONL example files, streamed line by line, with errors that name file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from seqkit.recipes.errors import RecipeDataError


def iter_jsonl(path: Path, *, what: str, items: str) -> Iterator[tuple[object, str]]:
    """``(record, "file:line")`` for every non-blank line of JSONL ``path``.

    ``what`` names the file kind in errors ("Instruction file"), ``items`` what it holds
    ("examples"): a missing, unreadable, non-UTF-8, non-JSON or empty file is a
    :class:`RecipeDataError` naming the file (and the line).
    """
    if not path.is_file():
        raise RecipeDataError(f"{what} {path} does not exist (or is not a file).")
    found = False
    try:
        with path.open("rb") as f:
            for line_nr, raw in enumerate(f, start=1):
                where = f"{path}:{line_nr}"
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as ex:
                    raise RecipeDataError(f"{where}: not UTF-8 text ({ex.reason}).") from None
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as ex:
                    raise RecipeDataError(f"{where}: not valid JSON ({ex.msg}).") from ex
                found = True
                yield record, where
    except OSError as ex:
        raise RecipeDataError(f"Cannot read {what.lower()} {path}: {ex.strerror}.") from ex
    if not found:
        raise RecipeDataError(f"{what} {path} holds no {items}.")
