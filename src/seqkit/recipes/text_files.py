"""Reading the plain-text inputs of recipes: one document (or sentence) per line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from seqkit.recipes.errors import RecipeDataError


def iter_lines(path: Path, *, limit: int | None = None) -> Iterator[str]:
    """Non-empty stripped lines of UTF-8 file ``path``; errors name the file and line."""
    if not path.is_file():
        raise RecipeDataError(f"Data file {path} does not exist (or is not a file).")
    count = 0
    with path.open("rb") as f:
        for line_nr, raw in enumerate(f, start=1):
            if limit is not None and count >= limit:
                return
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as ex:
                raise RecipeDataError(
                    f"{path}:{line_nr}: not UTF-8 text ({ex.reason}); convert the file first."
                ) from ex
            if line:
                count += 1
                yield line
