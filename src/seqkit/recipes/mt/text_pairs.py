"""Sentence pairs as text, for BLEU: two files aligned line by line."""

from __future__ import annotations

from pathlib import Path

from seqkit.recipes.errors import RecipeDataError


def read_aligned(source: Path, target: Path, *, limit: int | None = None) -> list[tuple[str, str]]:
    """The first ``limit`` pairs (all when ``None``) of two line-aligned UTF-8 files; pairs
    with an empty side are left out (as tokenization leaves them out)."""
    src, tgt = _lines(source, limit), _lines(target, limit)
    if limit is None and len(src) != len(tgt):
        raise RecipeDataError(
            f"{source} has {len(src)} lines but {target} has {len(tgt)}; parallel files must "
            "be aligned line by line."
        )
    return [(s, t) for s, t in zip(src, tgt, strict=False) if s and t]


def _lines(path: Path, limit: int | None) -> list[str]:
    if not path.is_file():
        raise RecipeDataError(f"Data file {path} does not exist (or is not a file).")
    lines: list[str] = []
    with path.open("rb") as f:
        for line_nr, raw in enumerate(f, start=1):
            if limit is not None and len(lines) >= limit:
                break
            try:
                lines.append(raw.decode("utf-8").strip())
            except UnicodeDecodeError as ex:
                raise RecipeDataError(
                    f"{path}:{line_nr}: not UTF-8 text ({ex.reason}); convert the file first."
                ) from ex
    return lines
