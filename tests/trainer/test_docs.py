"""The Python snippets of docs/trainer.md run."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "trainer.md"


def test_trainer_doc_snippets_run() -> None:
    snippets = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert snippets
    for snippet in snippets:
        exec(compile(snippet, str(DOC), "exec"), {"__name__": "docs_trainer"})
