from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

from seqkit.checkpoint import CheckpointState, StandardCheckpointManager
from seqkit.cli.command import CliCommand
from seqkit.composition.trainer import CheckpointListCommand, register_trainer
from seqkit.gang import FakeGang
from seqkit.runtime import DependencyContainer


def test_checkpoint_list_verifies_and_names_the_resume_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manager = StandardCheckpointManager(tmp_path, FakeGang(), keep_last_n=None)
    for step in (1, 2):
        manager.save(step, CheckpointState(model={"w": torch.ones(2) * step}), score=0.5)
    (tmp_path / "step_2" / "model.safetensors").write_bytes(b"garbage")
    (tmp_path / "step_3.tmp").mkdir()
    status = CheckpointListCommand().run(argparse.Namespace(directory=tmp_path))
    out = capsys.readouterr().out
    assert status == 0
    assert "step 2: CORRUPT" in out
    assert "step 1: ok" in out
    assert "resume uses this" in out.split("step 1: ok")[1]
    assert "step_3.tmp: incomplete write" in out


def test_registered_in_the_container() -> None:
    container = DependencyContainer()
    register_trainer(container)
    command = container.resolve(CliCommand, "checkpoint.list")
    assert isinstance(command, CheckpointListCommand)
