"""Listing files as a pipeline source."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from seqkit import _native
from seqkit._native import DataPipelineBuilder
from seqkit.data.errors import DataReadError


def list_files(directory: str | Path, *, pattern: str | None = None) -> DataPipelineBuilder:
    """Start a pipeline that yields the paths (``str``) of the files under ``directory``.

    The walk is recursive and sorted, so the order is the same on every machine;
    ``pattern`` is a glob matched against file names (``"*.txt"``). A ``shard()`` right
    after this source hands each shard its own files.
    """
    root = Path(directory)
    if not root.is_dir():
        raise DataReadError(f"'{root}' is not a directory; pass the directory to list")
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if pattern is None or fnmatch.fnmatch(name, pattern):
                found.append(str(Path(dirpath) / name))
    return _native.read_sequence(found)
