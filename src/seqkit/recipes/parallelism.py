"""Spreading a model over the gangs: tensor parallelism, activation checkpointing and
regional compile per layer, then DDP or FSDP over data (the order torchtitan uses)."""

from __future__ import annotations

import logging
from typing import Literal

from torch import nn

from seqkit.gang import to_ddp, to_fsdp
from seqkit.models.llama.model import LlamaModel
from seqkit.models.llama.sharder import shard_llama_model
from seqkit.nn import apply_activation_checkpointing, compile_layers, compile_unsupported_reason
from seqkit.recipes.errors import RecipeError
from seqkit.recipes.run_context import RunContext

log = logging.getLogger(__name__)


def parallelize(
    model: nn.Module,
    ctx: RunContext,
    *,
    data_parallel: Literal["ddp", "fsdp"],
    activation_checkpointing: Literal["none", "every"] | int = "none",
    compile: bool = False,
) -> nn.Module:
    """Shard ``model`` over the tensor-parallel gang (llama only), checkpoint and compile
    its transformer layers as asked, then wrap it for data parallelism over the
    data-parallel gang. Size-1 gangs leave the model as it is."""
    tp = ctx.gangs.tp
    if tp.size > 1:
        if not isinstance(model, LlamaModel):
            raise RecipeError(
                f"Tensor parallelism (train.tp_size={tp.size}) is implemented for the llama "
                f"family only, not {type(model).__name__}; use train.tp_size=1."
            )
        shard_llama_model(model, tp)
    apply_activation_checkpointing(model, activation_checkpointing)
    if compile:
        reason = compile_unsupported_reason(ctx.device)
        if reason is None:
            compile_layers(model)
        else:
            ctx.say(f"train.compile: running eager instead ({reason}).")
            log.warning("train.compile ignored: %s", reason)
    dp = ctx.gangs.dp
    if data_parallel == "fsdp":
        return to_fsdp(model, dp)
    return to_ddp(model, dp)
