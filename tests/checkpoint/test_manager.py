"""Promise 1 (committed or invisible) and promise 3 (loading never runs code)."""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path

import pytest
import torch

from seqkit.checkpoint import (
    MANIFEST_NAME,
    CheckpointError,
    CheckpointState,
    CorruptCheckpointError,
    StandardCheckpointManager,
    read_manifest,
)
from seqkit.gang import FakeGang


def _state(value: float) -> CheckpointState:
    weight = torch.full((3, 2), value)
    return CheckpointState(
        model={"w": weight, "tied": weight, "b": torch.arange(4.0)[::2]},
        optimizer={"state": {0: {"step": torch.tensor(value)}}, "param_groups": [{"lr": 0.1}]},
        trainer={"step": int(value), "betas": (0.9, 0.95), "dp_size": 1},
        rank={"data": {"position": 7}, "rng": torch.get_rng_state()},
    )


def _manager(tmp_path: Path, **kwargs: object) -> StandardCheckpointManager:
    return StandardCheckpointManager(tmp_path / "ckpt", FakeGang(), **kwargs)  # type: ignore[arg-type]


def test_save_writes_manifest_last_and_round_trips(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    path = manager.save(5, _state(5.0), score=1.5)
    assert path.name == "step_5"
    assert not list(path.parent.glob("*.tmp"))
    manifest = read_manifest(path)
    assert manifest.step == 5
    assert manifest.world_size == 1
    assert manifest.score == 1.5
    assert set(manifest.files) == {"model.safetensors", "optimizer.pt", "trainer.pt", "rank_0.pt"}
    assert manifest.torch_version == torch.__version__
    body = json.loads((path / MANIFEST_NAME).read_text())
    assert len(body["files"]["trainer.pt"]["sha256"]) == 64

    loaded = manager.load_latest()
    assert loaded is not None
    assert loaded.step == 5
    assert torch.equal(loaded.model["w"], torch.full((3, 2), 5.0))
    assert torch.equal(loaded.model["tied"], loaded.model["w"])  # tied weights survive
    assert torch.equal(loaded.model["b"], torch.tensor([0.0, 2.0]))  # non-contiguous view
    assert loaded.trainer["betas"] == (0.9, 0.95)
    assert loaded.rank is not None
    assert loaded.rank["data"] == {"position": 7}


def test_keep_last_n_and_keep_best(tmp_path: Path) -> None:
    manager = _manager(tmp_path, keep_last_n=2, keep_best_n=1)
    scores = {1: 3.0, 2: 0.5, 3: 2.0, 4: 1.0, 5: 4.0}
    for step, score in scores.items():
        manager.save(step, _state(float(step)), score=score)
    assert manager.committed_steps() == [2, 4, 5]  # best (2) + the last two
    assert not list((tmp_path / "ckpt").glob("*.tmp"))


def test_resume_ignores_tmp_leftovers_and_clears_them(tmp_path: Path) -> None:
    manager = _manager(tmp_path, keep_last_n=None)
    manager.save(1, _state(1.0))
    torn = tmp_path / "ckpt" / "step_2.tmp"
    torn.mkdir()
    (torn / "model.safetensors").write_bytes(b"half a file")
    loaded = manager.load_latest()
    assert loaded is not None
    assert loaded.step == 1
    assert not torn.exists()


@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "delete_file", "no_manifest"])
def test_corrupt_newest_is_reported_and_previous_used(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    manager = _manager(tmp_path, keep_last_n=None)
    manager.save(1, _state(1.0))
    newest = manager.save(2, _state(2.0))
    target = newest / "optimizer.pt"
    if damage == "flip_byte":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:-10])
    elif damage == "delete_file":
        target.unlink()
    else:
        (newest / MANIFEST_NAME).unlink()
    with caplog.at_level(logging.ERROR):
        loaded = manager.load_latest()
    assert loaded is not None
    assert loaded.step == 1
    assert len(manager.skipped) == 1
    assert manager.skipped[0][0] == newest
    assert "step_2" in caplog.text
    with pytest.raises(CorruptCheckpointError, match="step_2"):
        read_manifest(newest)


def test_no_checkpoint_returns_none(tmp_path: Path) -> None:
    assert _manager(tmp_path).load_latest() is None


def test_resaving_a_committed_step_is_a_no_op(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    path = manager.save(3, _state(3.0))
    before = (path / MANIFEST_NAME).read_text()
    manager.save(3, _state(9.0))
    assert (path / MANIFEST_NAME).read_text() == before


def test_loading_never_unpickles_code(tmp_path: Path) -> None:
    """A trainer.pt carrying a pickled callable is refused, not executed (promise 3)."""
    manager = _manager(tmp_path)
    path = manager.save(1, _state(1.0))
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (Path.touch, (str(marker),))  # type: ignore[return-value]

    torch.save({"step": 1, "payload": Evil()}, path / "trainer.pt")
    # Re-seal the manifest so only weights_only loading stands between us and the payload.
    from seqkit.checkpoint.manifest import write_manifest

    write_manifest(path, step=1, world_size=1, dp_size=1, score=None)
    with pytest.raises(pickle.UnpicklingError):
        manager.load_latest()
    assert not marker.exists()


def test_invalid_keep_last_n(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="keep_last_n"):
        _manager(tmp_path, keep_last_n=0)


def test_best_step_and_its_model_state(tmp_path: Path) -> None:
    manager = _manager(tmp_path, keep_last_n=None)
    assert manager.best_step() is None
    manager.save(1, _state(1.0))  # saved before any validation: no score
    assert manager.best_step() is None
    for step, score in {2: 0.7, 3: 0.5, 4: 0.5, 5: 0.9}.items():
        manager.save(step, _state(float(step)), score=score)
    assert manager.best_step() == 3  # the lowest score; ties go to the earliest
    assert torch.equal(manager.load_model_state(3)["w"], torch.full((3, 2), 3.0))
    # The weights are verified against the manifest before they are used.
    (manager.step_dir(3) / "model.safetensors").write_bytes(b"torn")
    with pytest.raises(CorruptCheckpointError, match=r"model\.safetensors"):
        manager.load_model_state(3)
