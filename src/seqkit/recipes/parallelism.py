"""Spreading a model over the gangs: tensor parallelism, activation checkpointing and
regional compile per layer, then DDP or FSDP over data (the order torchtitan uses)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

from seqkit.gang import FsdpConfig, to_ddp, to_fsdp
from seqkit.models.llama.model import LlamaModel
from seqkit.models.llama.sharder import shard_llama_model
from seqkit.nn import (
    apply_activation_checkpointing,
    compile_layers,
    compile_unsupported_reason,
    transformer_layers,
)
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
    dtype: str = "float32",
) -> nn.Module:
    """Shard ``model`` over the tensor-parallel gang (llama only), checkpoint and compile
    its transformer layers as asked, then wrap it for data parallelism over the
    data-parallel gang. Size-1 gangs leave the model as it is.

    FSDP shards every transformer layer as its own unit, then the root (embeddings, final
    norm and projection), as torchtitan does, so only one layer's parameters are gathered
    at a time. With ``dtype="bfloat16"`` FSDP computes with bf16 copies of the parameters
    and reduces gradients in fp32 (``MixedPrecisionPolicy``); the stored parameters, hence
    the optimizer's, stay fp32, and the trainer then skips autocast. DDP and one process
    keep fp32 parameters under autocast."""
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
        return to_fsdp(model, dp, fsdp_config_for(dtype), wrap=_is_transformer_layer(model))
    return to_ddp(model, dp)


def fsdp_config_for(dtype: str) -> FsdpConfig:
    """FSDP's mixed-precision policy for ``train.dtype``: bf16 compute with fp32 gradient
    reduction for ``bfloat16``; none otherwise (float16 keeps autocast and its scaler)."""
    if dtype == "bfloat16":
        return FsdpConfig(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    return FsdpConfig()


def _is_transformer_layer(model: nn.Module) -> Callable[[str, nn.Module], bool]:
    layers = {id(layer) for layer in transformer_layers(model)}
    return lambda _name, module: id(module) in layers
