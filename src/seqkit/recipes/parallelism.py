"""Spreading a model over the gangs: tensor parallelism, then DDP or FSDP over data."""

from __future__ import annotations

from typing import Literal

from torch import nn

from seqkit.gang import to_ddp, to_fsdp
from seqkit.models.llama.model import LlamaModel
from seqkit.models.llama.sharder import shard_llama_model
from seqkit.recipes.errors import RecipeError
from seqkit.recipes.run_context import RunContext


def parallelize(
    model: nn.Module, ctx: RunContext, *, data_parallel: Literal["ddp", "fsdp"]
) -> nn.Module:
    """Shard ``model`` over the tensor-parallel gang (llama only), then wrap it for data
    parallelism over the data-parallel gang. Size-1 gangs leave the model as it is."""
    tp = ctx.gangs.tp
    if tp.size > 1:
        if not isinstance(model, LlamaModel):
            raise RecipeError(
                f"Tensor parallelism (train.tp_size={tp.size}) is implemented for the llama "
                f"family only, not {type(model).__name__}; use train.tp_size=1."
            )
        shard_llama_model(model, tp)
    dp = ctx.gangs.dp
    if data_parallel == "fsdp":
        return to_fsdp(model, dp)
    return to_ddp(model, dp)
