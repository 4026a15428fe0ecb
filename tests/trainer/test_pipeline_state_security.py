"""A checkpoint whose data-pipeline state carries a pickle is refused, never executed."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch

from seqkit.data import DataPipeline, DataPipelineStateError, read_sequence
from tests.trainer.toy import build_trainer, make_examples


def _pipeline() -> DataPipeline:
    examples = make_examples(40)

    def to_batch(ids: list[int]) -> dict[str, torch.Tensor]:
        index = torch.tensor(ids)
        return {"seqs": examples[index], "ids": index}

    return (
        read_sequence(range(40))
        .shuffle(16, seed=5)
        .bucket(4, drop_remainder=True)
        .map(to_batch)
        .and_return()
    )


class _CreatesFile:
    """Unpickling this object creates ``path``: the stand-in for arbitrary code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def _find_op(state: Any, op: str) -> dict[str, Any] | None:
    if isinstance(state, dict):
        if state.get("op") == op:
            return state
        for value in state.values():
            found = _find_op(value, op)
            if found is not None:
                return found
    elif isinstance(state, list):
        for value in state:
            found = _find_op(value, op)
            if found is not None:
                return found
    return None


def _tamper(checkpoint: Path, marker: Path) -> None:
    """Plant a pickle in the shuffle buffer of rank_0.pt and fix up the manifest."""
    rank_file = checkpoint / "rank_0.pt"
    state = torch.load(rank_file, weights_only=True)
    shuffle = _find_op(state["data"], "shuffle")
    assert shuffle is not None
    shuffle["buffer"] = [{"__pickle__": pickle.dumps(_CreatesFile(marker))}, *shuffle["buffer"]]
    torch.save(state, rank_file)
    # The attacker also rewrites the manifest, so its checksums do not stop the load.
    manifest_path = checkpoint / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    body = rank_file.read_bytes()
    manifest["files"]["rank_0.pt"] = {
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    manifest_path.write_text(json.dumps(manifest))
    # torch.load(weights_only=True) lets the payload through as plain bytes.
    assert torch.load(rank_file, weights_only=True)["data"] is not None


def test_resume_from_a_pickle_in_the_pipeline_state_never_runs_it(tmp_path: Path) -> None:
    trainer = build_trainer(
        tmp_path, max_num_steps=5, checkpoint_every=None, reader=_pipeline(), schedule_steps=30
    )
    trainer.run()
    checkpoints = sorted(p for p in (tmp_path / "checkpoints").iterdir() if p.is_dir())
    assert checkpoints, "the run wrote no checkpoint"
    marker = tmp_path / "code-ran"
    _tamper(checkpoints[-1], marker)

    resumed = build_trainer(
        tmp_path, max_num_steps=10, checkpoint_every=None, reader=_pipeline(), schedule_steps=30
    )
    with pytest.raises(DataPipelineStateError, match=r"never unpickles") as info:
        resumed.run()
    assert "'__pickle__'" in str(info.value)
    assert not marker.exists()
