"""One run per output directory: an exclusive lock, and a resume that keeps its setup.

Rank 0 holds an ``flock`` on ``OUTPUT_DIR/.lock`` for the whole run and writes who holds
it (pid, host, start time) into the file, so a second run on the same directory fails at
once, naming the holder, instead of interleaving with the first. (``flock`` is per host:
on a network filesystem two hosts may not see each other's lock.)

On resume, the new config is compared with the saved ``config.yaml``: only settings that
can change mid-run (how long to train, cadences, logging, devices and layout) may differ;
anything that decides the data, the tokenizer, the model or the optimizer must not.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path
from typing import IO, Final

from seqkit.config import unstructure
from seqkit.config.safe_yaml import load_yaml
from seqkit.recipes.errors import RecipeError

LOCK_FILE: Final = ".lock"

RESUMABLE_PREFIXES: Final = (
    "train.max_steps",
    "train.max_wall_seconds",
    "train.validate_every_n_steps",
    "train.checkpoint_every_n_steps",
    "train.keep_last_checkpoints",
    "train.keep_best_checkpoints",
    "train.log_every_n_steps",
    "train.early_stopping_patience",
    "train.final_model",
    "train.tensorboard",
    "train.progress_bar",
    "train.console_metrics",
    "train.device",
    "train.tp_size",
    "train.data_parallel",
    "sample.",
    "bleu.",
)
"""Config keys (or key prefixes) that a resumed run may change."""


class OutputDirLock:
    """An exclusive lock on an output directory, held until :meth:`release`."""

    def __init__(self, output_dir: Path) -> None:
        path = output_dir / LOCK_FILE
        self._file: IO[str] | None = None
        try:
            file = path.open("a+", encoding="utf-8")
        except OSError as ex:
            raise RecipeError(f"Cannot write into {output_dir}: {ex.strerror}.") from ex
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "another process"
            file.close()
            raise RecipeError(
                f"{output_dir} is in use by another run ({holder}); wait for it to finish, "
                "or give this run another output directory."
            ) from None
        file.seek(0)
        file.truncate()
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        file.write(f"pid {os.getpid()} on {socket.gethostname()} since {started}\n")
        file.flush()
        self._file = file

    def release(self) -> None:
        """Release the lock (also released when the process ends)."""
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def prepare_output_dir(output_dir: Path) -> None:
    """Create ``output_dir``; a clear error if it is a file or cannot be written."""
    if output_dir.exists() and not output_dir.is_dir():
        raise RecipeError(f"The output directory {output_dir} is a file; give a directory.")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as ex:
        raise RecipeError(
            f"Cannot create the output directory {output_dir}: {ex.strerror}."
        ) from ex
    if not os.access(output_dir, os.W_OK | os.X_OK):
        raise RecipeError(
            f"The output directory {output_dir} is not writable; fix its permissions or "
            "give another one."
        )


def changed_keys(config: object, saved_file: Path) -> list[str]:
    """Config keys whose value differs from the saved ``config.yaml`` (none if absent)."""
    if not saved_file.is_file():
        return []
    saved = _flatten(load_yaml(saved_file).data)
    new = _flatten(unstructure(config))
    return sorted(
        k for k in set(saved) | set(new) if saved.get(k, _MISSING) != new.get(k, _MISSING)
    )


def check_resume_config(config: object, saved_file: Path) -> None:
    """Refuse a resumed run whose config changes what cannot change, naming each key."""
    saved = _flatten(load_yaml(saved_file).data) if saved_file.is_file() else {}
    new = _flatten(unstructure(config))
    fixed = [
        k
        for k in changed_keys(config, saved_file)
        if not any(k.startswith(p) for p in RESUMABLE_PREFIXES)
    ]
    if fixed:
        details = "; ".join(
            f"{k}: {_show(saved.get(k, _MISSING))} -> {_show(new.get(k, _MISSING))}" for k in fixed
        )
        raise RecipeError(
            f"{saved_file.parent} holds a run started with another setup ({details}). A resumed "
            "run can change only how long and how it trains (train.max_steps, cadences, "
            "logging, devices); restore these settings, or use a new output directory."
        )


_MISSING: Final = object()


def _show(value: object) -> str:
    return "(unset)" if value is _MISSING else repr(value)


def _flatten(data: object, prefix: str = "") -> dict[str, object]:
    if isinstance(data, dict):
        out: dict[str, object] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out if out or not prefix else {prefix[:-1]: {}}
    return {prefix[:-1]: _normalize(data)}


def _normalize(value: object) -> object:
    if isinstance(value, list | tuple):
        return [_normalize(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
