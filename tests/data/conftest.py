from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from seqkit.data import DataPipeline

REPO = Path(__file__).resolve().parents[2]
BIBLE = REPO / "datasets" / "bible" / "web.en"


def plain(x: Any) -> Any:
    """Makes pipeline output comparable with ==: tensors become (dtype, lists)."""
    if isinstance(x, torch.Tensor):
        return (str(x.dtype), x.tolist())
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return type(x)(plain(v) for v in x)
    return x


def drain(pipeline: DataPipeline) -> list[Any]:
    return [plain(x) for x in pipeline]


def check_resume_everywhere(
    build: Callable[[], DataPipeline], positions: list[int] | None = None
) -> list[Any]:
    """Saves at each position, loads into a fresh pipeline, and compares the rest."""
    expected = drain(build())
    for k in positions if positions is not None else range(len(expected) + 1):
        pipeline = build()
        head = [plain(next(pipeline)) for _ in range(k)]
        # The state must be plain data: it survives pickling (as in a checkpoint).
        state = pickle.loads(pickle.dumps(pipeline.state_dict()))
        rest_same = drain(pipeline)
        resumed = build()
        resumed.load_state_dict(state)
        rest = drain(resumed)
        assert head + rest == expected, f"resume at {k} differs"
        assert rest == rest_same
    return expected


@pytest.fixture
def bible_lines() -> list[str]:
    with open(BIBLE, encoding="utf-8") as f:
        return [next(f).rstrip("\n") for _ in range(300)]
