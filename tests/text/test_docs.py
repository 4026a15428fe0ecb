"""The Python snippets of docs/text.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seqkit.cli.main import main

from .conftest import BIBLE, REPO


def _snippets() -> list[str]:
    text = (REPO / "docs" / "text.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_docs_snippets_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snippets = _snippets()
    assert len(snippets) == 2
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "bible").symlink_to(BIBLE)
    monkeypatch.chdir(tmp_path)
    exec(compile(snippets[0], "docs/text.md#1", "exec"), {})
    # The second snippet reads the dataset the page's `seqkit data preprocess` writes.
    status = main(
        ["data", "preprocess", "datasets/bible/kjv-rv1909.en", "--tokenizer",
         "tok/unigram500.yaml", "--output", "data/lm", "--no-progress"]
    )  # fmt: skip
    assert status == 0
    exec(compile(snippets[1], "docs/text.md#2", "exec"), {})
