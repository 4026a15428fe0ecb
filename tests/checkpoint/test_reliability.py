"""Corrupt checkpoints are replaced, a full disk is reported, empty manifests are refused."""

from __future__ import annotations

import errno
import json
import logging
import os
from pathlib import Path

import pytest
import torch

import seqkit.checkpoint.files as files_module
from seqkit.checkpoint import (
    MANIFEST_NAME,
    CheckpointError,
    CheckpointState,
    CorruptCheckpointError,
    StandardCheckpointManager,
    read_manifest,
)
from seqkit.gang import FakeGang
from seqkit.trainer import Trainer
from tests.trainer.toy import Batch, build_trainer


def _state(value: float) -> CheckpointState:
    return CheckpointState(
        model={"w": torch.full((3, 2), value)},
        optimizer={"state": {}, "param_groups": [{"lr": 0.1}]},
        trainer={"step": int(value), "dp_size": 1},
        rank={"data": {"position": int(value)}},
    )


def _manager(tmp_path: Path, **kwargs: object) -> StandardCheckpointManager:
    return StandardCheckpointManager(tmp_path / "ckpt", FakeGang(), **kwargs)  # type: ignore[arg-type]


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupt_only_checkpoint_is_replaced_when_its_step_is_saved_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manager = _manager(tmp_path, keep_last_n=1)
    path = manager.save(5, _state(5.0))
    _flip_byte(path / "model.safetensors")
    assert manager.load_latest() is None  # the only checkpoint is corrupt

    with caplog.at_level(logging.WARNING):
        again = manager.save(5, _state(9.0))
    assert again == path
    assert "Replacing corrupt checkpoint" in caplog.text
    read_manifest(path)  # verifies now
    loaded = _manager(tmp_path, keep_last_n=1).load_latest()
    assert loaded is not None
    assert loaded.step == 5
    assert torch.equal(loaded.model["w"], torch.full((3, 2), 9.0))
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["step_5"]


def test_corrupt_checkpoint_stays_until_its_replacement_is_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replacement that fails half-way leaves the older good checkpoint as it was.

    The failure is an ENOSPC raised by a monkeypatched ``write_chunk`` (filling a real disk
    is not practical in a test); everything else is real files.
    """
    manager = _manager(tmp_path, keep_last_n=None)
    manager.save(3, _state(3.0))
    newest = manager.save(5, _state(5.0))
    _flip_byte(newest / "trainer.pt")

    def no_space(fd: int, data: bytes | memoryview) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files_module, "write_chunk", no_space)
    with pytest.raises(CheckpointError, match="No space left on device"):
        manager.save(5, _state(9.0))
    monkeypatch.undo()
    assert manager.committed_steps() == [3, 5]
    assert not list((tmp_path / "ckpt").glob("*.tmp"))
    loaded = manager.load_latest()
    assert loaded is not None
    assert loaded.step == 3  # the corrupt step 5 is passed over, step 3 is intact


def test_resaving_a_verified_step_keeps_it(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    path = manager.save(4, _state(4.0))
    before = (path / MANIFEST_NAME).read_bytes()
    manager.save(4, _state(7.0))
    assert (path / MANIFEST_NAME).read_bytes() == before


def test_trainer_with_keep_last_one_rewrites_a_corrupt_checkpoint(tmp_path: Path) -> None:
    """keep_last_n=1 and the only checkpoint corrupt: the rerun reaching that step replaces
    it, so a later extension resumes from there and not from the beginning."""

    def trainer(steps: int) -> Trainer[Batch]:
        built = build_trainer(tmp_path, max_num_steps=steps, checkpoint_every=3)
        built.checkpoint_manager = StandardCheckpointManager(
            tmp_path / "checkpoints", FakeGang(), keep_last_n=1
        )
        return built

    first = trainer(6).run()
    assert first.step == 6
    ckpt = tmp_path / "checkpoints" / "step_6"
    _flip_byte(ckpt / "model.safetensors")

    rerun = trainer(6).run()
    assert rerun.resumed_from is None  # nothing valid to resume from
    assert len(rerun.corrupt_checkpoints) == 1
    assert "step_6" in rerun.corrupt_checkpoints[0]
    read_manifest(ckpt)  # replaced by the rerun's save of step 6

    extended = trainer(9).run()
    assert extended.resumed_from == 6
    assert extended.step == 9


@pytest.mark.parametrize("where", ["model", "optimizer", "manifest"])
def test_no_space_left_while_saving_is_a_clear_error_and_older_checkpoints_survive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """ENOSPC while writing a checkpoint file.

    Simulated by monkeypatching ``seqkit.checkpoint.files.write_chunk``, the lowest-level
    write every checkpoint byte goes through, to raise ``OSError(ENOSPC)``: filling a real
    disk is not practical in a test. This is the only fake in these tests.
    """
    manager = _manager(tmp_path, keep_last_n=1)
    manager.save(2, _state(2.0))
    real_write = files_module.write_chunk
    target = {
        "model": "model.safetensors",
        "optimizer": "optimizer.pt",
        "manifest": MANIFEST_NAME,
    }[where]

    def write_chunk(fd: int, data: bytes | memoryview) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(f"step_4.tmp/{target}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(fd, data)

    monkeypatch.setattr(files_module, "write_chunk", write_chunk)
    with pytest.raises(CheckpointError, match="No space left on device") as info:
        manager.save(4, _state(4.0))
    assert f"step_4.tmp/{target}" in str(info.value)
    assert info.value.path == tmp_path / "ckpt" / "step_4.tmp" / target
    assert manager.committed_steps() == [2]
    assert not (tmp_path / "ckpt" / "step_4.tmp").exists()  # its space is given back
    monkeypatch.undo()
    loaded = manager.load_latest()
    assert loaded is not None
    assert loaded.step == 2
    assert torch.equal(loaded.model["w"], torch.full((3, 2), 2.0))
    manager.save(4, _state(4.0))  # once there is space again, the same step saves
    assert manager.committed_steps() == [4]


def test_manifest_listing_no_files_is_corrupt_and_the_previous_one_is_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manager = _manager(tmp_path, keep_last_n=None)
    manager.save(1, _state(1.0))
    newest = manager.save(2, _state(2.0))
    manifest = newest / MANIFEST_NAME
    body = json.loads(manifest.read_text())
    body["files"] = {}
    manifest.write_text(json.dumps(body))
    with pytest.raises(CorruptCheckpointError, match="lists no files") as info:
        read_manifest(newest)
    assert "step_2" in str(info.value)
    with caplog.at_level(logging.ERROR):
        loaded = manager.load_latest()
    assert loaded is not None
    assert loaded.step == 1
    assert manager.skipped[0][0] == newest
    assert "lists no files" in manager.skipped[0][1]


def test_manifest_without_the_model_file_is_corrupt(tmp_path: Path) -> None:
    manager = _manager(tmp_path, keep_last_n=None)
    manager.save(1, _state(1.0))
    newest = manager.save(2, _state(2.0))
    manifest = newest / MANIFEST_NAME
    body = json.loads(manifest.read_text())
    del body["files"]["model.safetensors"]
    manifest.write_text(json.dumps(body))
    loaded = manager.load_latest()
    assert loaded is not None
    assert loaded.step == 1
    assert "does not list model.safetensors" in manager.skipped[0][1]


def test_checkpoint_files_round_trip_through_the_durable_writer(tmp_path: Path) -> None:
    tensors = {
        "f": torch.randn(3, 4),
        "bf16": torch.randn(5).to(torch.bfloat16),
        "view": torch.arange(10.0)[::3],
        "scalar": torch.tensor(7),
        "empty": torch.zeros(0, 2),
    }
    tensors["tied"] = tensors["f"]
    files_module.save_tensors(tensors, tmp_path / "t.safetensors")
    back = files_module.load_tensors(tmp_path / "t.safetensors")
    assert back.keys() == tensors.keys()
    for name, tensor in tensors.items():
        assert torch.equal(back[name], tensor), name
