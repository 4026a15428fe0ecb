"""Data-parallel wrappers: DDP and FSDP2 (``torch.distributed.fsdp.fully_shard``)."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard
from torch.nn import Module
from torch.nn.parallel import DistributedDataParallel

from seqkit.gang.errors import GangSetupError
from seqkit.gang.fake import FakeGang
from seqkit.gang.gang import Gang
from seqkit.gang.process_group import ProcessGroupGang


def to_ddp(model: Module, gang: Gang, *, find_unused_parameters: bool = False) -> Module:
    """Wrap ``model`` in DistributedDataParallel over ``gang`` (the dp gang).

    Gradients are averaged over the gang during ``backward()``. On a :class:`FakeGang`
    the model is returned as is. Ranks must start from the same weights; DDP broadcasts rank
    0's at construction to make sure.
    """
    if isinstance(gang, FakeGang):
        return model
    pg_gang = _process_group_gang(gang, "DDP")
    device_ids = [gang.device.index or 0] if gang.device.type == "cuda" else None
    return pg_gang.run(
        "ddp_init",
        lambda: DistributedDataParallel(
            model,
            device_ids=device_ids,
            process_group=pg_gang.process_group,
            find_unused_parameters=find_unused_parameters,
        ),
    )


@dataclass(kw_only=True)
class FsdpConfig:
    """How :func:`to_fsdp` shards a model."""

    param_dtype: torch.dtype | None = None
    """The dtype parameters are gathered in and computed with (``torch.bfloat16`` for mixed
    precision); ``None`` keeps the stored dtype."""

    reduce_dtype: torch.dtype | None = None
    """The dtype gradients are reduced in; ``None`` uses ``param_dtype``. float32 keeps the
    reduction exact when computing in bf16."""

    reshard_after_forward: bool = True
    """Free the gathered parameters after forward (ZeRO-3, least memory) instead of keeping
    them until backward (ZeRO-2, one all-gather less per step)."""

    def __post_init__(self) -> None:
        for name in ("param_dtype", "reduce_dtype"):
            dtype = getattr(self, name)
            if dtype is not None and not dtype.is_floating_point:
                raise GangSetupError(f"`{name}` must be a floating-point dtype, but is {dtype}.")


def to_fsdp(
    model: Module,
    gang: Gang,
    config: FsdpConfig | None = None,
    *,
    wrap: Callable[[str, Module], bool] | None = None,
) -> Module:
    """Shard ``model``'s parameters over ``gang`` with FSDP2, in place, and return it.

    ``wrap(name, module)`` picks the submodules (typically the transformer layers) that
    become their own FSDP units, so only one layer's parameters are gathered at a time;
    the root module is always one. On a :class:`FakeGang` the model is returned as is.
    Parameters become ``DTensor`` s; use
    :func:`~seqkit.gang.get_consolidated_state_dict` for a full state dict.
    """
    if isinstance(gang, FakeGang):
        return model
    config = config or FsdpConfig()
    pg_gang = _process_group_gang(gang, "FSDP")
    mesh = DeviceMesh.from_group(pg_gang.process_group, gang.device.type)
    policy = MixedPrecisionPolicy(
        param_dtype=config.param_dtype, reduce_dtype=config.reduce_dtype or config.param_dtype
    )
    units = [m for n, m in model.named_modules() if n and wrap is not None and wrap(n, m)]
    for unit in units:  # children before the root, as FSDP2 requires
        fully_shard(
            unit, mesh=mesh, mp_policy=policy, reshard_after_forward=config.reshard_after_forward
        )
    # The root's parameters are needed again right at the start of backward.
    fully_shard(model, mesh=mesh, mp_policy=policy, reshard_after_forward=False)
    _FSDP_CONFIGS[model] = config
    return model


_FSDP_CONFIGS: weakref.WeakKeyDictionary[Module, FsdpConfig] = weakref.WeakKeyDictionary()


def fsdp_config(model: Module) -> FsdpConfig | None:
    """The :class:`FsdpConfig` ``model`` was sharded with by :func:`to_fsdp` (``None`` if
    it was not). The trainer asks for ``param_dtype``: FSDP's mixed-precision policy
    then replaces autocast."""
    return _FSDP_CONFIGS.get(model)


def fsdp_units(model: Module) -> list[str]:
    """The names of ``model``'s FSDP2 units in module order, the root (``""``) last."""
    names = [name for name, m in model.named_modules() if isinstance(m, FSDPModule)]
    return [n for n in names if n] + [n for n in names if not n]


def _process_group_gang(gang: Gang, what: str) -> ProcessGroupGang:
    if not isinstance(gang, ProcessGroupGang):
        raise GangSetupError(
            f"{what} needs a ProcessGroupGang (from `setup_gangs()` under torchrun or srun), "
            f"but got a {type(gang).__name__} of size {gang.size}."
        )
    return gang
