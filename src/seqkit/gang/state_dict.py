"""State dicts of parallel models: consolidated (full tensors, one file) or sharded (each
rank's local slices, one file per rank, restored with the same world layout)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.distributed.tensor import DTensor, distribute_tensor
from torch.nn import Module
from torch.nn.parallel import DistributedDataParallel

from seqkit.gang.errors import ShardingError
from seqkit.gang.gang import Gang
from seqkit.gang.tensor_parallel import ShardedModule


def unwrap_model(model: Module) -> Module:
    """The model inside a DDP wrapper (FSDP2 and tensor parallelism wrap nothing)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def get_consolidated_state_dict(
    model: Module, gang: Gang, *, rank0_only: bool = True
) -> dict[str, Tensor]:
    """The full, unsharded state dict on the CPU, with the keys of the plain model.

    A collective: every rank of ``gang`` (the root gang) must call it. With ``rank0_only``
    the other ranks get ``{}`` (they still take part in the gathers).
    """
    model = unwrap_model(model)
    full: dict[str, Tensor] = {}
    sharded = _sharded_modules(model)
    for prefix, module in sharded.items():
        for key, value in module.full_state_dict().items():
            full[f"{prefix}{key}"] = value
    for key, value in model.state_dict().items():
        if key in full:
            continue
        if isinstance(value, DTensor):
            value = value.full_tensor()
        full[key] = value.detach()
    if rank0_only and gang.rank != 0:
        return {}
    return {key: value.to("cpu", copy=True) for key, value in full.items()}


def load_consolidated_state_dict(model: Module, state_dict: dict[str, Tensor]) -> None:
    """Load a full state dict (as :func:`get_consolidated_state_dict` returns it) into a
    sharded, DDP-wrapped or plain model; each rank keeps its own slices.

    Every rank must call it with the same full ``state_dict``. Missing or unexpected keys
    raise :class:`ShardingError`.
    """
    model = unwrap_model(model)
    expected = set(model.state_dict())
    missing, unexpected = expected - set(state_dict), set(state_dict) - expected
    if missing or unexpected:
        raise ShardingError(
            f"The state dict does not fit {type(model).__name__}: missing keys "
            f"{sorted(missing)[:5]}, unexpected keys {sorted(unexpected)[:5]}. Was it saved "
            "from another architecture?"
        )
    sharded = _sharded_modules(model)
    for prefix, module in sharded.items():
        part = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
        module.load_full_state_dict(part)
    covered = {f"{p}{k}" for p, m in sharded.items() for k in m.state_dict()}
    with torch.no_grad():
        for key, target in model.state_dict().items():
            if key in covered:
                continue
            source = state_dict[key]
            if isinstance(target, DTensor):
                source = distribute_tensor(
                    source.to(target.device, target.dtype), target.device_mesh, target.placements
                )
                target.to_local().copy_(source.to_local())
            else:
                target.copy_(source)


def get_sharded_state_dict(model: Module) -> dict[str, Tensor]:
    """This rank's local slices (no communication), for a per-rank file."""
    model = unwrap_model(model)
    return {
        key: (value.to_local() if isinstance(value, DTensor) else value)
        .detach()
        .to("cpu", copy=True)
        for key, value in model.state_dict().items()
    }


def load_sharded_state_dict(model: Module, state_dict: dict[str, Tensor]) -> None:
    """Load this rank's slices saved by :func:`get_sharded_state_dict` (same world layout)."""
    model = unwrap_model(model)
    targets = model.state_dict()
    if set(targets) != set(state_dict):
        raise ShardingError(
            "The sharded state dict does not fit the model: keys differ "
            f"({sorted(set(targets) ^ set(state_dict))[:5]})."
        )
    with torch.no_grad():
        for key, target in targets.items():
            local = target.to_local() if isinstance(target, DTensor) else target
            if local.shape != state_dict[key].shape:
                raise ShardingError(
                    f"The shard of {key} has the shape {tuple(state_dict[key].shape)} but this "
                    f"rank holds {tuple(local.shape)}; a sharded state dict only loads into "
                    "the same world size and tp_size; use a consolidated one to change them."
                )
            local.copy_(state_dict[key])


def _sharded_modules(model: Module) -> dict[str, ShardedModule]:
    return {
        f"{name}." if name else "": module
        for name, module in model.named_modules()
        if isinstance(module, ShardedModule)
    }
