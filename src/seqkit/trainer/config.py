"""Configuration of the training loop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import torch

from seqkit.trainer.errors import TrainerConfigError

DTYPES: Final = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(kw_only=True)
class EarlyStoppingConfig:
    """Stop when a validation metric has not improved for ``patience`` validations."""

    metric: str = "loss"
    """Name of the validation metric to watch (``loss``, ``ppl`` or a scorer's metric)."""

    mode: Literal["min", "max"] = "min"
    """Whether lower (``min``) or higher (``max``) is better."""

    patience: int = 3
    """Validations without improvement tolerated before stopping."""

    min_delta: float = 0.0
    """Smallest change that counts as an improvement."""

    def __post_init__(self) -> None:
        if self.patience < 1:
            raise TrainerConfigError("early_stopping.patience", "must be >= 1.")


@dataclass(kw_only=True)
class ProfilerConfig:
    """A ``torch.profiler`` window written as a TensorBoard trace."""

    output_dir: Path
    """Directory receiving the trace files."""

    skip_steps: int = 2
    """Steps to run before profiling (warm caches and allocators first)."""

    active_steps: int = 3
    """Steps recorded."""


@dataclass(kw_only=True)
class TrainerConfig:
    """How long to train, how to step, when to validate and checkpoint."""

    max_num_steps: int | None = None
    """Stop after this many optimizer steps."""

    max_num_epochs: int | None = None
    """Stop at the end of this many passes over the data."""

    max_wall_time_s: float | None = None
    """Stop (after checkpointing) once this many seconds of training have elapsed."""

    grad_accumulation: int = 1
    """Batches whose gradients are summed into one optimizer step."""

    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """Autocast dtype; ``float16`` adds a gradient scaler."""

    max_grad_norm: float | None = None
    """Clip the total gradient norm to this value (the norm is always recorded)."""

    max_consecutive_nonfinite: int = 0
    """Non-finite loss/grad-norm steps skipped in a row before stopping (0: stop at once)."""

    validate_every_n_steps: int | None = None
    """Run the eval unit every this many steps (and at the end); None disables validation."""

    checkpoint_every_n_steps: int | None = None
    """Checkpoint every this many steps; a checkpoint is also taken when training stops."""

    publish_metrics_every_n_steps: int = 1
    """Record training metrics (averaged over the window) every this many steps."""

    best_checkpoint_metric: str = "loss"
    """Validation metric saved as each checkpoint's score (what keep-best ranks by)."""

    best_checkpoint_mode: Literal["min", "max"] = "min"
    """``max``: higher is better, and the score is saved negated (keep-best keeps the
    lowest scores)."""

    early_stopping: EarlyStoppingConfig | None = None
    """Stop on a stalled validation metric; needs ``validate_every_n_steps``."""

    seed: int = 2
    """Seed of every RNG at the start of a fresh run (each rank adds its rank)."""

    deterministic: bool = False
    """Call ``torch.use_deterministic_algorithms(True)`` (needed for exact resume on GPU)."""

    progress_bar: bool = True
    """Show a tqdm progress bar on rank 0."""

    profiler: ProfilerConfig | None = None
    """Profile a window of steps."""

    handle_signals: bool = True
    """On SIGTERM/SIGINT finish the current step, checkpoint, and return."""

    resume: bool = True
    """Resume from the newest valid checkpoint when one exists."""

    model_flops_per_token: float | None = None
    """Training FLOPs (forward + backward) per target token, e.g. from
    :func:`seqkit.models.flops.llama_flops_per_token`; adds ``model_tflops_per_s`` and
    ``mfu`` to the training metrics."""

    peak_flops_per_s: float | None = None
    """Peak FLOP/s of one device for ``mfu``; ``None``: the dense bf16 peak of a known CUDA
    device (no ``mfu`` on other devices)."""

    def __post_init__(self) -> None:
        if (
            self.max_num_steps is None
            and self.max_num_epochs is None
            and self.max_wall_time_s is None
        ):
            raise TrainerConfigError(
                "max_num_steps",
                "set at least one of max_num_steps, max_num_epochs, max_wall_time_s.",
            )
        for name in (
            "max_num_steps",
            "max_num_epochs",
            "grad_accumulation",
            "validate_every_n_steps",
            "checkpoint_every_n_steps",
            "publish_metrics_every_n_steps",
        ):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise TrainerConfigError(name, f"must be >= 1, got {value}.")
        for name in ("model_flops_per_token", "peak_flops_per_s"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise TrainerConfigError(name, f"must be > 0 (or None), got {value}.")
        if self.max_consecutive_nonfinite < 0:
            raise TrainerConfigError("max_consecutive_nonfinite", "must be >= 0.")
        if self.best_checkpoint_mode not in ("min", "max"):
            raise TrainerConfigError("best_checkpoint_mode", "must be 'min' or 'max'.")
        if self.dtype not in DTYPES:
            raise TrainerConfigError("dtype", f"must be one of {sorted(DTYPES)}.")
        if self.early_stopping is not None and self.validate_every_n_steps is None:
            raise TrainerConfigError(
                "early_stopping", "needs validate_every_n_steps (early stopping watches it)."
            )
