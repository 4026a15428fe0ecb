"""Errors of the recipes: bad inputs to ``seqkit lm``/``seqkit mt`` and their outputs."""

from __future__ import annotations

from seqkit.errors import SeqkitError


class RecipeError(SeqkitError):
    """A recipe cannot run as configured; the message names the input and the fix."""


class RecipeDataError(RecipeError, ValueError):
    """A data file of a recipe is missing or malformed (the message names file and line)."""
