"""Fixtures of the end-to-end recipe tests: small slices of the bundled Bible corpus."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import seqkit
from seqkit.runtime import DependencyContainer

REPO = Path(__file__).resolve().parents[2]
BIBLE = REPO / "datasets" / "bible"


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> Iterator[None]:
    # The test machines share two cores among many processes; one thread per process is
    # several times faster there than two threads waiting on each other. Session scope, so
    # that it is in force before the module-scoped training fixtures run.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def container() -> DependencyContainer:
    """The real composition root."""
    return seqkit.setup()


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 verses of the World English Bible."""
    lines = (BIBLE / "web.en").read_text(encoding="utf-8").splitlines()[:400]
    path = tmp_path_factory.mktemp("corpus") / "web400.en"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def instructions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Instruction data made from real verses: finish the verse given its first half."""
    lines = (BIBLE / "web.en").read_text(encoding="utf-8").splitlines()[400:560]
    path = tmp_path_factory.mktemp("sft") / "finish.jsonl"
    records = []
    for i, line in enumerate(lines):
        words = line.split()
        half = len(words) // 2
        head, tail = " ".join(words[:half]), " ".join(words[half:])
        if i % 4 == 0:
            records.append({"messages": [
                {"role": "user", "content": f"Finish: {head}"},
                {"role": "assistant", "content": tail},
            ]})  # fmt: skip
        else:
            records.append({"prompt": f"Finish: {head}", "response": tail})
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def copy_task(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real-text translation task: copy the first 4-6 words of a KJV verse (lowercased).

    Copying is learned in a few hundred steps by a one-layer transformer, which makes the
    test a check that source attention, target masking and decoding all work together.
    """
    out = []
    for line in (BIBLE / "kjv-rv1909.en").read_text(encoding="utf-8").splitlines()[:1500]:
        words = re.sub(r"[^A-Za-z ]", "", line).lower().split()[:6]
        if len(words) >= 4:
            sentence = " ".join(words)
            out.append(f"{sentence}\t{sentence}")
    path = tmp_path_factory.mktemp("mt") / "copy.tsv"
    path.write_text("\n".join(out[:700]) + "\n", encoding="utf-8")
    return path
