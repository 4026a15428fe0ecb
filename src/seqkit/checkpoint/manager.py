"""Atomic training checkpoints: ``step_N.tmp/`` -> fsync -> manifest -> rename -> fsync parent.

A step directory without the ``.tmp`` suffix is complete by construction: the manifest is
written only after every rank has fsynced its files, and the rename is the commit point.
Old checkpoints are pruned only after the new one is committed.
"""

from __future__ import annotations

import logging
import re
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, final

import torch
from torch import Tensor
from typing_extensions import override

from seqkit.checkpoint.errors import CheckpointError, CorruptCheckpointError
from seqkit.checkpoint.files import (
    fsync_dir,
    fsync_file,
    load_object,
    load_tensors,
    save_object,
    save_tensors,
)
from seqkit.checkpoint.manifest import Manifest, read_manifest, write_manifest
from seqkit.gang import Gang, ReduceOperation

log = logging.getLogger(__name__)

MODEL_FILE: Final = "model.safetensors"
OPTIMIZER_FILE: Final = "optimizer.pt"
TRAINER_FILE: Final = "trainer.pt"
_STEP_DIR = re.compile(r"^step_(\d+)$")


def rank_file(rank: int) -> str:
    """Name of the per-rank state file (data-pipeline position, RNG states)."""
    return f"rank_{rank}.pt"


@dataclass(kw_only=True)
class CheckpointState:
    """What one rank contributes to a checkpoint.

    ``model``, ``optimizer`` and ``trainer`` are replicated across data-parallel ranks and
    written by rank 0 only (consolidated, so any world size can load them); ``rank`` is
    written by every rank. Values must be tensors and plain Python containers/numbers.
    """

    model: Mapping[str, Tensor] = field(default_factory=dict)
    """The unwrapped model's state dict (safetensors)."""

    optimizer: Mapping[str, object] = field(default_factory=dict)
    """The optimizer's state dict."""

    trainer: Mapping[str, object] = field(default_factory=dict)
    """Counters, scheduler, grad scaler, topology-independent data position."""

    rank: Mapping[str, object] = field(default_factory=dict)
    """This rank's data-pipeline state and RNG states."""


@dataclass(kw_only=True)
class LoadedCheckpoint:
    """A verified checkpoint read back for one rank."""

    path: Path
    """The step directory."""

    manifest: Manifest
    """Its manifest (step, world layout, versions)."""

    model: dict[str, Tensor]
    """Model state dict."""

    optimizer: dict[str, object]
    """Optimizer state dict."""

    trainer: dict[str, object]
    """Trainer state."""

    rank: dict[str, object] | None
    """This rank's state, or None when the checkpoint was written by another world size."""

    @property
    def step(self) -> int:
        """Optimizer steps completed when it was taken."""
        return self.manifest.step


class CheckpointManager(ABC):
    """Saves and restores training checkpoints."""

    @abstractmethod
    def save(self, step: int, state: CheckpointState, *, score: float | None = None) -> Path:
        """Commit a checkpoint of ``step`` (collective: every rank calls it)."""

    @abstractmethod
    def load_latest(self) -> LoadedCheckpoint | None:
        """The newest checkpoint that verifies, or None (collective)."""

    @abstractmethod
    def committed_steps(self) -> list[int]:
        """Steps of the committed checkpoints, ascending (unverified)."""


@final
class StandardCheckpointManager(CheckpointManager):
    """Checkpoints under ``directory`` as ``step_N/`` directories; see the module docstring.

    :param keep_last_n: how many of the newest checkpoints to keep (None keeps all).
    :param keep_best_n: also keep this many with the lowest ``score``.
    """

    def __init__(
        self,
        directory: Path,
        gang: Gang,
        *,
        keep_last_n: int | None = 1,
        keep_best_n: int = 0,
    ) -> None:
        if keep_last_n is not None and keep_last_n < 1:
            raise CheckpointError(
                f"keep_last_n must be >= 1 or None, got {keep_last_n}.", path=directory
            )
        self.directory = directory
        self._gang = gang
        self._keep_last_n = keep_last_n
        self._keep_best_n = keep_best_n
        self.skipped: list[tuple[Path, str]] = []
        """Corrupt checkpoints that :meth:`load_latest` passed over, with the reason."""

    def step_dir(self, step: int) -> Path:
        """The committed directory of ``step``."""
        return self.directory / f"step_{step}"

    @override
    def save(self, step: int, state: CheckpointState, *, score: float | None = None) -> Path:
        gang = self._gang
        final_dir = self.step_dir(step)
        tmp_dir = final_dir.with_name(final_dir.name + ".tmp")
        # "committed": a verified step_N exists, so this step boundary is saved already;
        # "corrupt": step_N exists but fails verification and is replaced by this save.
        status: list[object] = ["absent"]
        if gang.rank == 0:
            status[0] = self._existing_status(final_dir)
            if status[0] != "committed":
                self.directory.mkdir(parents=True, exist_ok=True)
                if tmp_dir.exists():
                    shutil.rmtree(tmp_dir)
                tmp_dir.mkdir()
        gang.broadcast_objects(status)
        if status[0] == "committed":
            return final_dir  # its state is the same as the one we would write
        gang.barrier()
        error: CheckpointError | None = None
        try:
            if gang.rank == 0:
                _write(tmp_dir / MODEL_FILE, lambda p: save_tensors(state.model, p))
                _write(tmp_dir / OPTIMIZER_FILE, lambda p: save_object(dict(state.optimizer), p))
                _write(tmp_dir / TRAINER_FILE, lambda p: save_object(dict(state.trainer), p))
            _write(tmp_dir / rank_file(gang.rank), lambda p: save_object(dict(state.rank), p))
        except CheckpointError as ex:
            error = ex
        # Every rank learns whether any rank failed, so none waits for a commit that the
        # others abandoned.
        failed = torch.tensor([0.0 if error is None else 1.0], device=gang.device)
        gang.all_reduce(failed, ReduceOperation.MAX)
        if gang.rank == 0:
            try:
                if failed.item() == 0.0:
                    dp_size = int(str(state.trainer.get("dp_size", gang.size)))
                    write_manifest(
                        tmp_dir, step=step, world_size=gang.size, dp_size=dp_size, score=score
                    )
                    fsync_dir(tmp_dir)
                    self._commit(tmp_dir, final_dir, replace=status[0] == "corrupt")
                    self._prune(keep=step)
            except CheckpointError as ex:
                error = ex
            if error is not None or failed.item() != 0.0:
                shutil.rmtree(tmp_dir, ignore_errors=True)  # frees the space it took
        committed: list[object] = [error is None and failed.item() == 0.0]
        gang.broadcast_objects(committed)
        if error is not None:
            raise error
        if not committed[0]:
            raise CheckpointError(
                f"Checkpoint {final_dir} was not committed: another rank failed to write it "
                "(see its error). The checkpoints committed before it are intact.",
                path=final_dir,
            )
        return final_dir

    def _existing_status(self, final_dir: Path) -> str:
        """``"absent"``, ``"committed"`` (verifies) or ``"corrupt"`` for ``step_N``."""
        if not final_dir.exists():
            return "absent"
        try:
            self._verify(final_dir)
        except CorruptCheckpointError as ex:
            log.warning("Replacing corrupt checkpoint %s with a new save: %s", final_dir, ex)
            return "corrupt"
        return "committed"

    def _commit(self, tmp_dir: Path, final_dir: Path, *, replace: bool) -> None:
        """Rename the complete ``tmp_dir`` to ``final_dir``; a corrupt ``final_dir`` is
        moved aside first and deleted only after the new one is in place."""
        aside: Path | None = None
        if replace:
            aside = final_dir.with_name(final_dir.name + ".corrupt.tmp")
            if aside.exists():
                shutil.rmtree(aside)
            final_dir.rename(aside)
        tmp_dir.rename(final_dir)
        fsync_dir(self.directory)
        if aside is not None:
            shutil.rmtree(aside)

    def _prune(self, keep: int) -> None:
        steps = self.committed_steps()
        keep_set = {keep}
        keep_set.update(steps if self._keep_last_n is None else steps[-self._keep_last_n :])
        if self._keep_best_n > 0:
            scored = self._scored_steps(steps)
            keep_set.update(step for _, step in scored[: self._keep_best_n])
        for step in steps:
            if step not in keep_set:
                doomed = self.step_dir(step)
                # Rename first so a crash mid-delete leaves an ignored *.tmp, not a torn step.
                trash = doomed.with_name(doomed.name + ".deleting.tmp")
                doomed.rename(trash)
                shutil.rmtree(trash)

    @override
    def committed_steps(self) -> list[int]:
        if not self.directory.is_dir():
            return []
        steps = []
        for child in self.directory.iterdir():
            match = _STEP_DIR.match(child.name)
            if match and child.is_dir():
                steps.append(int(match.group(1)))
        return sorted(steps)

    def clear_incomplete(self) -> list[Path]:
        """Delete ``*.tmp`` leftovers of interrupted saves (rank 0 only); returns them."""
        if self._gang.rank != 0 or not self.directory.is_dir():
            return []
        leftovers = [p for p in self.directory.iterdir() if p.name.endswith(".tmp")]
        for path in leftovers:
            log.info("Removing incomplete checkpoint %s", path)
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        return leftovers

    @override
    def load_latest(self) -> LoadedCheckpoint | None:
        gang = self._gang
        chosen: list[object] = [None]
        if gang.rank == 0:
            self.clear_incomplete()
            chosen[0] = self._newest_valid()
        gang.broadcast_objects(chosen)
        if chosen[0] is None:
            return None
        step = int(str(chosen[0]))
        path = self.step_dir(step)
        manifest = read_manifest(path, verify=False)  # rank 0 verified it just now
        rank_state: dict[str, object] | None = None
        if manifest.world_size == gang.size:
            rank_state = _as_dict(load_object(path / rank_file(gang.rank)), path)
        return LoadedCheckpoint(
            path=path,
            manifest=manifest,
            model=load_tensors(path / MODEL_FILE),
            optimizer=_as_dict(load_object(path / OPTIMIZER_FILE), path),
            trainer=_as_dict(load_object(path / TRAINER_FILE), path),
            rank=rank_state,
        )

    def best_step(self) -> int | None:
        """The committed step with the lowest score (ties: the earliest), or None when no
        checkpoint was saved with a score."""
        scored = self._scored_steps(self.committed_steps())
        return scored[0][1] if scored else None

    def _scored_steps(self, steps: list[int]) -> list[tuple[float, int]]:
        """``(score, step)`` of the checkpoints saved with a score, best first."""
        scored: list[tuple[float, int]] = []
        for step in steps:
            try:
                score = read_manifest(self.step_dir(step), verify=False).score
            except CorruptCheckpointError:
                continue
            if score is not None:
                scored.append((score, step))
        return sorted(scored)

    def load_model_state(self, step: int) -> dict[str, Tensor]:
        """The model state dict of checkpoint ``step``, verified against its manifest."""
        path = self.step_dir(step)
        self._verify(path)
        return load_tensors(path / MODEL_FILE)

    def _verify(self, path: Path) -> Manifest:
        """Read ``path``'s manifest, check every file, and that rank 0's files are listed."""
        manifest = read_manifest(path, verify=True)
        missing = [n for n in (MODEL_FILE, OPTIMIZER_FILE, TRAINER_FILE) if n not in manifest.files]
        if missing:
            raise CorruptCheckpointError(
                f"Checkpoint {path} is corrupt: its manifest does not list {', '.join(missing)}.",
                path=path,
            )
        return manifest

    def _newest_valid(self) -> int | None:
        for step in reversed(self.committed_steps()):
            path = self.step_dir(step)
            try:
                self._verify(path)
            except CorruptCheckpointError as ex:
                log.error("Skipping corrupt checkpoint %s: %s", path, ex)
                self.skipped.append((path, str(ex)))
                continue
            return step
        return None


def _write(path: Path, writer: Callable[[Path], None]) -> None:
    writer(path)
    commit_file(path)


def commit_file(path: Path) -> None:
    """Make a freshly written checkpoint file durable before the manifest can name it."""
    fsync_file(path)


def _as_dict(obj: object, path: Path) -> dict[str, object]:
    if not isinstance(obj, dict):
        raise CorruptCheckpointError(
            f"Checkpoint {path} holds a {type(obj).__name__} where a dict was expected.",
            path=path,
        )
    return obj
