"""Running the trainer for a recipe: optimizer, schedule, checkpoints, metrics, summary."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from torch import nn

from seqkit.checkpoint import StandardCheckpointManager
from seqkit.metrics.recorders import MetricRecorders, RecorderSettings
from seqkit.models.flops import model_flops_per_token
from seqkit.optim import LRSchedulers, Optimizers
from seqkit.recipes.errors import RecipeError
from seqkit.recipes.run_context import RunContext
from seqkit.recipes.sections import OptimSection, TrainSection
from seqkit.trainer import (
    DataReader,
    EarlyStoppingConfig,
    EvalUnit,
    Trainer,
    TrainerConfig,
    TrainSummary,
    TrainUnit,
    ValidationScorer,
)

BatchT = TypeVar("BatchT")

CHECKPOINT_DIR = "checkpoints"
"""Training checkpoints (step directories) inside the output directory."""

HIGHER_IS_BETTER = frozenset({"bleu", "chrf"})
"""Validation metrics for which a higher value is better (all others: lower)."""


DECAYING_SCHEDULERS = frozenset({"cosine", "polynomial", "tri_stage"})
"""Built-in schedulers that decay to ``total_steps`` (a warmup must fit before it)."""


def scheduler_settings(
    optim: OptimSection, train: TrainSection, say: Callable[[str], None]
) -> dict[str, Any]:
    """``optim.lr_scheduler`` as the run uses it: a warmup fitted to a short run."""
    data = dict(optim.lr_scheduler)
    if "total_steps" not in data and data.get("name") in DECAYING_SCHEDULERS:
        fit_warmup(data, train.max_steps, say)
    return data


def fit_warmup(scheduler: dict[str, Any], max_steps: int, say: Callable[[str], None]) -> None:
    """Shorten a warmup that would not fit in a short run (``train.max_steps=2`` with the
    presets' warmup) to ``max_steps // 10`` steps, and say so."""
    warmup = scheduler.get("warmup_steps", 0)
    if isinstance(warmup, int) and warmup >= max_steps:
        scheduler["warmup_steps"] = max_steps // 10
        say(
            f"optim.lr_scheduler.warmup_steps={warmup} does not fit in train.max_steps="
            f"{max_steps}; warming up for {max_steps // 10} steps instead (set "
            "optim.lr_scheduler.warmup_steps to choose)."
        )


def run_training(
    ctx: RunContext,
    *,
    model: nn.Module,
    unit: TrainUnit[BatchT],
    reader: DataReader[BatchT],
    valid_unit: EvalUnit[BatchT] | None,
    valid_reader: DataReader[BatchT] | None,
    optim: OptimSection,
    train: TrainSection,
    recipe: str,
    optimizers: Optimizers,
    lr_schedulers: LRSchedulers,
    recorders: MetricRecorders,
    run_config: object = None,
    valid_scorers: Sequence[ValidationScorer] = (),
) -> TrainSummary:
    """Train ``unit`` until ``train.max_steps``, resuming from the newest checkpoint.

    The optimizer, LR scheduler and metric recorders come from the registered
    ``optimizers``, ``lr_schedulers`` and ``recorders`` (built-ins plus extensions);
    ``run_config`` (the run's whole config) is shown to the recorders. ``valid_scorers`` add
    metrics (e.g. BLEU) to every validation; ``train.best_metric`` may name one of them.
    """
    optimizer = optimizers.create(
        optimizers.config_from_dict(optim.optimizer),
        [p for p in model.parameters() if p.requires_grad],
    )
    scheduler_data = scheduler_settings(optim, train, ctx.say)
    scheduler_config = lr_schedulers.config_from_dict(scheduler_data, total_steps=train.max_steps)
    scheduler = lr_schedulers.create(scheduler_config, optimizer)
    validate = valid_unit is not None and valid_reader is not None
    if validate and not valid_scorers and train.best_metric not in ("loss", "ppl"):
        raise RecipeError(
            f"train.best_metric={train.best_metric!r} is not a validation metric of {recipe}; "
            "use loss or ppl."
        )
    mode: Literal["min", "max"] = "max" if train.best_metric in HIGHER_IS_BETTER else "min"
    early_stopping = (
        EarlyStoppingConfig(
            metric=train.best_metric, mode=mode, patience=train.early_stopping_patience
        )
        if train.early_stopping_patience is not None and validate
        else None
    )
    config = TrainerConfig(
        max_num_steps=train.max_steps,
        max_wall_time_s=train.max_wall_seconds,
        grad_accumulation=train.grad_accumulation,
        dtype=train.dtype,
        max_grad_norm=optim.max_grad_norm,
        validate_every_n_steps=train.validate_every_n_steps if validate else None,
        checkpoint_every_n_steps=train.checkpoint_every_n_steps,
        publish_metrics_every_n_steps=train.log_every_n_steps,
        seed=train.seed,
        progress_bar=train.progress_bar,
        best_checkpoint_metric=train.best_metric,
        best_checkpoint_mode=mode,
        early_stopping=early_stopping,
        model_flops_per_token=model_flops_per_token(model),
    )
    checkpoints = StandardCheckpointManager(
        ctx.output_dir / CHECKPOINT_DIR,
        ctx.gangs.root,
        keep_last_n=train.keep_last_checkpoints,
        keep_best_n=train.keep_best_checkpoints,
    )
    settings = RecorderSettings(
        output_dir=ctx.output_dir,
        console=train.console_metrics,
        tensorboard=train.tensorboard,
        run=recipe,
        config=run_config,
    )
    run_recorders = recorders.create(settings) if ctx.is_main else []
    trainer = Trainer(
        config,
        unit,
        reader,
        optimizer,
        lr_scheduler=scheduler,
        gang=ctx.gangs.dp,
        root_gang=ctx.gangs.root,
        checkpoint_manager=checkpoints,
        recorders=run_recorders,
        valid_unit=valid_unit if validate else None,
        valid_reader=valid_reader if validate else None,
        valid_scorers=valid_scorers if validate else (),
    )
    try:
        return trainer.run()
    finally:
        for recorder in run_recorders:
            recorder.close()
