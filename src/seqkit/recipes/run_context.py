"""What every recipe run shares: the gangs, the device, the output directory, rank 0."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from seqkit.gang import Gangs, setup_gangs
from seqkit.recipes.errors import RecipeError
from seqkit.recipes.sections import TrainSection

T = TypeVar("T")

log = logging.getLogger("seqkit.recipes")


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """One process's view of a recipe run."""

    output_dir: Path
    """Where the run writes checkpoints, metrics, the model and its card."""

    gangs: Gangs
    """Root, data-parallel and tensor-parallel gangs (size 1 outside torchrun)."""

    @property
    def device(self) -> torch.device:
        """The device of this process."""
        return self.gangs.root.device

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, which writes shared files and prints."""
        return self.gangs.root.rank == 0

    def main_first(self, work: Callable[[], T]) -> T | None:
        """Run ``work`` on rank 0 while the others wait; return its result on rank 0."""
        result = work() if self.is_main else None
        self.gangs.root.barrier()
        return result

    def say(self, message: str) -> None:
        """Print ``message`` on rank 0 only (user-facing progress, not logging)."""
        if self.is_main:
            print(message, flush=True)


def create_run_context(output_dir: Path, train: TrainSection) -> RunContext:
    """Set up the gangs (from torchrun/SLURM if present), seed every RNG, make the dir."""
    device = _device(train.device)
    gangs = setup_gangs(tp_size=train.tp_size, device=device)
    seed_everything(train.seed)
    output_dir.mkdir(parents=True, exist_ok=True)
    return RunContext(output_dir=output_dir, gangs=gangs)


def seed_everything(seed: int) -> None:
    """Seed python, NumPy and torch; every rank uses the same seed so weights match."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _device(name: str | None) -> torch.device | None:
    """``train.device`` as a torch device; a clear error for one this machine lacks."""
    if name is None:
        return None
    try:
        device = torch.device(name)
    except RuntimeError:
        raise RecipeError(
            f"train.device={name!r} is not a device torch knows; use cpu, cuda or cuda:N."
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RecipeError(
            f"train.device={name!r}, but this torch sees no CUDA device; use train.device=cpu."
        )
    if (
        device.type == "cuda"
        and device.index is not None
        and device.index >= torch.cuda.device_count()
    ):
        raise RecipeError(
            f"train.device={name!r}, but there are {torch.cuda.device_count()} CUDA device(s)."
        )
    if device.type not in ("cpu", "cuda"):
        raise RecipeError(f"train.device={name!r} is not supported; use cpu or cuda.")
    return device
