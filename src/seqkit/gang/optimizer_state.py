"""Consolidated optimizer state: keyed by parameter name, full tensors, any world size.

``torch.optim.Optimizer.state_dict()`` keys state by the position of each parameter and,
under FSDP2, holds each rank's shard (a DTensor). The consolidated form keys state by the
parameter's name in the unwrapped model and holds full CPU tensors, so a checkpoint written
by N FSDP ranks loads into M ranks, into DDP, or into a single process. Tensor-parallel
modules (:class:`~seqkit.gang.tensor_parallel.ShardedModule`) keep per-rank state: their
slices have no DTensor layout to re-derive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from torch import Tensor
from torch.distributed.fsdp import FSDPModule
from torch.distributed.tensor import DTensor, distribute_tensor
from torch.nn import Module, Parameter
from torch.optim import Optimizer

from seqkit.gang.errors import ShardingError
from seqkit.gang.gang import Gang
from seqkit.gang.state_dict import unwrap_model

FORMAT: Final = "seqkit.consolidated_optimizer/1"
"""The ``format`` value of a consolidated optimizer state dict."""


def is_consolidated_optimizer_state(state: Mapping[str, object]) -> bool:
    """Whether ``state`` was written by :func:`get_consolidated_optimizer_state`."""
    return state.get("format") == FORMAT


def get_consolidated_optimizer_state(
    model: Module, optimizer: Optimizer, gang: Gang, *, rank0_only: bool = True
) -> dict[str, object]:
    """``optimizer``'s state with full tensors on the CPU, keyed by parameter name.

    A collective under FSDP (sharded state is gathered): every rank of ``gang`` must call
    it. With ``rank0_only`` the other ranks get ``{}``.
    """
    names = _parameter_names(model)
    state: dict[str, dict[str, object]] = {}
    groups: list[dict[str, object]] = []
    for group in optimizer.param_groups:
        params: list[Parameter] = group["params"]
        group_names = [_name_of(p, names) for p in params]
        groups.append({k: v for k, v in group.items() if k != "params"} | {"params": group_names})
        for param, name in zip(params, group_names, strict=True):
            if param in optimizer.state:
                state[name] = {
                    key: _full_cpu(value) for key, value in optimizer.state[param].items()
                }
    if rank0_only and gang.rank != 0:
        return {}
    return {"format": FORMAT, "state": state, "param_groups": groups}


def load_consolidated_optimizer_state(
    model: Module, optimizer: Optimizer, state: Mapping[str, object]
) -> None:
    """Load a consolidated state into ``optimizer``; each rank keeps its own shards.

    Every rank must call it with the same full ``state``. Parameters are matched by name;
    a group whose parameters differ from the saved one raises :class:`ShardingError`.
    """
    if not is_consolidated_optimizer_state(state):
        raise ShardingError("Not a consolidated optimizer state (no 'format' field).")
    names = _parameter_names(model)
    saved_groups = _list(state["param_groups"], "param_groups")
    saved_state = _dict(state["state"], "state")
    if len(saved_groups) != len(optimizer.param_groups):
        raise ShardingError(
            f"The optimizer has {len(optimizer.param_groups)} parameter groups but the "
            f"checkpoint holds {len(saved_groups)}."
        )
    by_position: dict[int, dict[str, object]] = {}
    position = 0
    groups: list[dict[str, object]] = []
    for index, (group, saved) in enumerate(zip(optimizer.param_groups, saved_groups, strict=True)):
        saved_group = _dict(saved, f"param_groups[{index}]")
        params: list[Parameter] = group["params"]
        current = [_name_of(p, names) for p in params]
        if current != saved_group["params"]:
            saved_names = {str(n) for n in _list(saved_group["params"], "params")}
            missing, extra = sorted(set(current) - saved_names), sorted(saved_names - set(current))
            raise ShardingError(
                f"Parameter group {index} does not match the checkpoint: missing "
                f"{missing[:5]}, unexpected {extra[:5]} (or a different order). Was it saved "
                "from another model or optimizer setup?"
            )
        ids = list(range(position, position + len(params)))
        groups.append(saved_group | {"params": ids})
        for param, name, param_id in zip(params, current, ids, strict=True):
            if name in saved_state:
                values = _dict(saved_state[name], name)
                by_position[param_id] = {k: _like(v, param) for k, v in values.items()}
        position += len(params)
    optimizer.load_state_dict({"state": by_position, "param_groups": groups})


def _parameter_names(model: Module) -> dict[int, str]:
    model = unwrap_model(model)
    # After a forward without backward (validation) FSDP2 leaves the gathered parameters
    # registered; the optimizer holds the sharded ones, which resharding puts back.
    for module in model.modules():
        if isinstance(module, FSDPModule):
            module.reshard()
    return {id(p): name for name, p in model.named_parameters()}


def _name_of(param: Tensor, names: dict[int, str]) -> str:
    try:
        return names[id(param)]
    except KeyError:
        raise ShardingError(
            "The optimizer holds a parameter that is not in the model; build the optimizer "
            "from the (wrapped) model's parameters."
        ) from None


def _full_cpu(value: object) -> object:
    if isinstance(value, DTensor):
        value = value.full_tensor()
    if isinstance(value, Tensor):
        return value.detach().to("cpu", copy=True)
    return value


def _like(value: object, param: Tensor) -> object:
    """``value`` placed like ``param`` when it is a per-element state tensor."""
    if not isinstance(value, Tensor) or value.shape != param.shape or value.dim() == 0:
        return value
    value = value.to(param.device)
    if isinstance(param, DTensor):
        return distribute_tensor(value, param.device_mesh, param.placements)
    return value


def _dict(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ShardingError(f"Consolidated optimizer state: {where} is not a mapping.")
    return value


def _list(value: object, where: str) -> list[object]:
    if not isinstance(value, list):
        raise ShardingError(f"Consolidated optimizer state: {where} is not a list.")
    return value


__all__ = [
    "FORMAT",
    "get_consolidated_optimizer_state",
    "is_consolidated_optimizer_state",
    "load_consolidated_optimizer_state",
]
