"""The end of a training run: the model and its card, the loss plot, a summary to print."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from torch import nn
from torch.distributed.tensor import DTensor

from seqkit.checkpoint import StandardCheckpointManager
from seqkit.gang import get_consolidated_state_dict, load_consolidated_state_dict
from seqkit.models import ModelFamilies, create_model, save_model
from seqkit.recipes.card import ModelCardInfo, write_card
from seqkit.recipes.errors import RecipeError
from seqkit.recipes.loss_curve import plot_loss_curves, read_loss_curve, text_curve
from seqkit.recipes.run_context import RunContext
from seqkit.recipes.tokenizer_setup import RunTokenizer
from seqkit.recipes.training import CHECKPOINT_DIR
from seqkit.trainer import TrainSummary, unwrap_model

_TITLES = {"lm": "Language-model training loss", "translation": "Translation training loss"}

MODEL_DIR = "model"
"""The final model (``model.safetensors`` + ``model.yaml``) inside the output directory."""


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """What a finished training run produced."""

    output_dir: Path
    """The run's directory."""

    card_path: Path
    """``OUTPUT_DIR/card.yaml``: pass it to ``seqkit.load_model``."""

    summary: TrainSummary
    """How training ended."""

    first_loss: float | None
    """The first recorded training loss."""

    last_loss: float | None
    """The last recorded training loss."""

    plot_path: Path | None
    """The loss-curve PNG, if matplotlib is installed."""

    weights_step: int
    """The step whose weights were saved (``summary.step`` unless the best was chosen)."""


def finish_run(
    ctx: RunContext,
    *,
    model: nn.Module,
    families: ModelFamilies,
    tokenizer: RunTokenizer,
    family: str,
    task: str,
    summary: TrainSummary,
    final_model: Literal["last", "best"] = "last",
    extra: dict[str, object] | None = None,
) -> RunResult:
    """Save the model, write the card and the loss plot (rank 0); return the result.

    ``final_model="best"`` first loads the best kept checkpoint into ``model`` on every
    rank, so the saved weights (and anything run afterwards) are that checkpoint's.
    """
    card_path = ctx.output_dir / "card.yaml"
    metrics = ctx.output_dir / "metrics.jsonl"
    curve = read_loss_curve(metrics)
    plot: Path | None = None
    weights_step = summary.step
    if final_model == "best":
        weights_step = _load_best(ctx, model)
    plain = _plain_model(ctx, model, families)
    if ctx.is_main:
        model_dir = ctx.output_dir / MODEL_DIR
        save_model(plain, model_dir)
        if tokenizer.path is not None:
            write_card(
                ModelCardInfo(
                    name=ctx.output_dir.resolve().name,
                    family=family,
                    model_dir=model_dir,
                    tokenizer=tokenizer.path,
                    tokenizer_family=tokenizer.family,
                    task=task,
                    extra={
                        "trained_steps": summary.step,
                        "weights_from_step": weights_step,
                        **(extra or {}),
                    },
                ),
                ctx.output_dir,
            )
        plot = plot_loss_curves(
            metrics,
            ctx.output_dir / "loss.png",
            title=_TITLES.get(task, "training loss") + f" ({ctx.output_dir.name})",
        )
    ctx.gangs.root.barrier()
    return RunResult(
        output_dir=ctx.output_dir,
        card_path=card_path,
        summary=summary,
        first_loss=curve[0][1] if curve else None,
        last_loss=curve[-1][1] if curve else None,
        plot_path=plot,
        weights_step=weights_step,
    )


def _load_best(ctx: RunContext, model: nn.Module) -> int:
    """Load the best kept checkpoint's weights into ``model`` on every rank (so whatever
    runs after training, such as a final BLEU, sees them too); return its step."""
    checkpoints = StandardCheckpointManager(ctx.output_dir / CHECKPOINT_DIR, ctx.gangs.root)
    step = checkpoints.best_step()
    if step is None:
        raise RecipeError(
            f"train.final_model=best, but no checkpoint in {checkpoints.directory} has a "
            "validation score: validation needs data (data.valid_*) and a checkpoint at a "
            "validation step."
        )
    load_consolidated_state_dict(model, checkpoints.load_model_state(step))
    return step


def _plain_model(ctx: RunContext, model: nn.Module, families: ModelFamilies) -> nn.Module:
    """The model with full weights on rank 0: sharded (TP/FSDP) weights are gathered
    (a collective, so every rank calls this) into an unsharded copy."""
    inner = unwrap_model(model)
    if not any(isinstance(p, DTensor) for p in inner.parameters()) and ctx.gangs.tp.size == 1:
        return inner
    state = get_consolidated_state_dict(inner, ctx.gangs.root)
    if not ctx.is_main:
        return inner
    config = getattr(inner, "config", None)
    family = getattr(inner, "family", None)
    if config is None or family is None:
        raise RecipeError(
            f"Cannot save the sharded {type(inner).__name__}: it has no .config/.family to "
            "rebuild an unsharded copy from."
        )
    copy = create_model(str(family), config, families=families)
    copy.load_state_dict(state)
    return copy


def report_run(ctx: RunContext, result: RunResult, *, usage: list[str]) -> None:
    """Print the loss curve, where everything is, and how to use the model (rank 0)."""
    if not ctx.is_main:
        return
    summary = result.summary
    curve = read_loss_curve(ctx.output_dir / "metrics.jsonl")
    lines = [""]
    if len(curve) >= 2:
        lines += ["Training loss:", text_curve(curve), ""]
    resumed = f", resumed from step {summary.resumed_from}" if summary.resumed_from else ""
    lines.append(f"Stopped at step {summary.step} ({summary.stop_reason}{resumed}).")
    if result.first_loss is not None and result.last_loss is not None:
        lines.append(f"Train loss: {result.first_loss:.3f} -> {result.last_loss:.3f}")
    if summary.valid_metrics:
        valid = ", ".join(
            f"{k} {v:.3f}" for k, v in summary.valid_metrics.items() if k != "num_targets"
        )
        lines.append(f"Validation: {valid}")
    if summary.num_skipped_steps:
        lines.append(f"Skipped {summary.num_skipped_steps} non-finite step(s).")
    for corrupt in summary.corrupt_checkpoints:
        lines.append(f"Ignored a corrupt checkpoint: {corrupt}")
    chosen = ""
    if result.weights_step != summary.step:
        chosen = f" (weights of step {result.weights_step}, the best validation checkpoint)"
    lines.append(f"Model:    {ctx.output_dir / MODEL_DIR}{chosen}")
    if result.card_path.is_file():
        lines.append(f"Card:     {result.card_path}")
    lines.append(f"Metrics:  {ctx.output_dir / 'metrics.jsonl'}")
    if result.plot_path is not None:
        lines.append(f"Plot:     {result.plot_path}")
    lines += ["", "Use it:", *(f"  {u}" for u in usage)]
    print("\n".join(lines), flush=True)
