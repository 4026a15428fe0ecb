"""Per-layer training speed/memory trade-offs: activation checkpointing and regional compile.

Both act on the transformer layers of any model built from :mod:`seqkit.nn` stacks
(:class:`TransformerEncoder`/:class:`TransformerDecoder`), in place, and leave parameter
names and the state dict unchanged. Apply them before data-parallel wrapping (DDP/FSDP2)
and after tensor-parallel sharding: shard, checkpoint, compile, wrap.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor
from torch.nn import Module

from seqkit.nn.transformer_layers import TransformerDecoderLayer, TransformerEncoderLayer
from seqkit.nn.transformer_stack import TransformerDecoder, TransformerEncoder

TransformerLayer = TransformerEncoderLayer | TransformerDecoderLayer


def transformer_layers(model: Module) -> list[TransformerLayer]:
    """The layers of every transformer stack of ``model``, stack by stack, in order."""
    layers: list[TransformerLayer] = []
    for module in model.modules():
        if isinstance(module, TransformerEncoder | TransformerDecoder):
            layers.extend(
                layer
                for layer in module.layers
                if isinstance(layer, TransformerEncoderLayer | TransformerDecoderLayer)
            )
    return layers


def apply_activation_checkpointing(model: Module, every: Literal["none", "every"] | int) -> int:
    """Recompute the activations of transformer layers in backward (non-reentrant
    :func:`torch.utils.checkpoint.checkpoint`), keeping only each layer's input.

    ``every``: ``"none"`` (no layer), ``"every"`` (every layer, same as 1) or ``k`` (the
    k-th, 2k-th, ... layer of each stack: layers ``i`` with ``(i + 1) % k == 0``). Returns
    the number of checkpointed layers. Results and gradients are unchanged (dropout masks
    are replayed: the RNG state is restored for the recomputation); decoding with a KV
    cache and ``torch.no_grad()`` runs never recompute.
    """
    k = _checkpoint_interval(every)
    count = 0
    for module in model.modules():
        if not isinstance(module, TransformerEncoder | TransformerDecoder):
            continue
        for i, layer in enumerate(module.layers):
            if not isinstance(layer, TransformerEncoderLayer | TransformerDecoderLayer):
                continue
            layer.checkpoint_activations = k > 0 and (i + 1) % k == 0
            count += int(layer.checkpoint_activations)
    return count


def _checkpoint_interval(every: Literal["none", "every"] | int) -> int:
    if every == "none":
        return 0
    if every == "every":
        return 1
    if isinstance(every, int) and not isinstance(every, bool) and every >= 1:
        return every
    raise ValueError(
        f"activation checkpointing must be 'none', 'every' or an integer k >= 1, not {every!r}"
    )


def compile_unsupported_reason(device: torch.device) -> str | None:
    """Why ``torch.compile`` (inductor) cannot run on ``device`` here, or ``None`` if it can.

    Checks what fails late otherwise (at the first forward): Python support of dynamo, a
    C++ compiler for CPU kernels, Triton for CUDA kernels.
    """
    try:
        from torch._dynamo.eval_frame import is_dynamo_supported

        if not is_dynamo_supported():
            return "torch.compile does not support this Python version"
    except ImportError:  # pragma: no cover - every supported torch has it
        return "torch._dynamo is not available"
    if device.type == "cpu":
        candidates = [os.environ.get("CXX", ""), "g++", "c++", "clang++"]
        if not any(c and shutil.which(c) for c in candidates):
            return "inductor needs a C++ compiler for CPU kernels and none was found (set CXX)"
    elif device.type == "cuda":
        if importlib.util.find_spec("triton") is None:
            return "inductor needs Triton for CUDA kernels and it is not installed"
    elif device.type != "meta":
        return f"inductor kernels are not set up for {device.type} devices here"
    return None


def compile_layers(model: Module, *, dynamic: bool | None = None, fullgraph: bool = False) -> int:
    """Compile each transformer layer's forward with ``torch.compile`` (regional compile,
    as torchtitan does): the embedding, the final projection and the loss stay eager.
    Returns the number of compiled layers.

    What is compiled is the layer's :meth:`checkpointed_forward`, so activation
    checkpointing (set it first) is traced into the graph, and the module tree, parameter
    names and state dict stay those of the eager model. Decoding steps with a KV cache stay
    eager (one shape per step would recompile). Compilation happens at the first forward;
    use :func:`compile_unsupported_reason` first to fall back cleanly.
    """
    layers = transformer_layers(model)
    compiled: dict[type[Module], Callable[..., Tensor]] = {}
    for layer in layers:
        cls = type(layer)
        if cls not in compiled:  # one compiled function per layer class, shared
            compiled[cls] = torch.compile(
                cls.checkpointed_forward, dynamic=dynamic, fullgraph=fullgraph
            )
        layer.compiled_forward = compiled[cls]
    return len(layers)
