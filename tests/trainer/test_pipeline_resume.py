"""Exact resume with a real `seqkit.data` pipeline (shuffle + bucket) as the reader."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqkit.data import DataPipeline, read_sequence
from seqkit.trainer import unwrap_model
from tests.trainer.toy import build_trainer, make_examples

STEPS = 14


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


def _train(out: Path | None, steps: int) -> dict[str, torch.Tensor]:
    trainer = build_trainer(
        out, max_num_steps=steps, checkpoint_every=None, reader=_pipeline(), schedule_steps=30
    )
    trainer.run()
    return dict(unwrap_model(trainer.unit.model).state_dict())


@pytest.mark.parametrize("stop_at", [7, 10])  # mid-epoch, and exactly at the epoch's end
def test_pipeline_reader_resumes_bitwise(tmp_path: Path, stop_at: int) -> None:
    expected = _train(None, STEPS)
    _train(tmp_path, stop_at)  # ends with a checkpoint of step ``stop_at``
    resumed = _train(tmp_path, STEPS)
    for name, value in expected.items():
        assert torch.equal(resumed[name], value), name
