"""Distributed processes for seqkit: the :class:`Gang` interface over torch.distributed,
``setup_gangs()`` from torchrun/SLURM, and data-, fully-sharded- and tensor-parallel
wrappers. No other component calls torch.distributed directly."""

from __future__ import annotations

from seqkit.gang.data_parallel import FsdpConfig, fsdp_config, fsdp_units, to_ddp, to_fsdp
from seqkit.gang.environment import WorldInfo, first_hostname, read_world_info
from seqkit.gang.errors import GangError, GangSetupError, ShardingError
from seqkit.gang.fake import FakeGang
from seqkit.gang.gang import Gang, ReduceOperation
from seqkit.gang.process_group import DEFAULT_TIMEOUT, ProcessGroupGang, backend_for
from seqkit.gang.setup import Gangs, GangsFactory, default_device, setup_gangs, split_gangs
from seqkit.gang.sharder import ShardKind, shard_modules
from seqkit.gang.state_dict import (
    get_consolidated_state_dict,
    get_sharded_state_dict,
    load_consolidated_state_dict,
    load_sharded_state_dict,
    unwrap_model,
)
from seqkit.gang.tensor_parallel import (
    ColumnShardedLinear,
    RowShardedLinear,
    ShardedModule,
    VocabShardedEmbedding,
)
from seqkit.gang.tp_ops import copy_to_tp, gather_from_tp, reduce_from_tp, scatter_to_tp

__all__ = [
    "DEFAULT_TIMEOUT",
    "ColumnShardedLinear",
    "FakeGang",
    "FsdpConfig",
    "Gang",
    "GangError",
    "GangSetupError",
    "Gangs",
    "GangsFactory",
    "ProcessGroupGang",
    "ReduceOperation",
    "RowShardedLinear",
    "ShardKind",
    "ShardedModule",
    "ShardingError",
    "VocabShardedEmbedding",
    "WorldInfo",
    "backend_for",
    "copy_to_tp",
    "default_device",
    "first_hostname",
    "fsdp_config",
    "fsdp_units",
    "gather_from_tp",
    "get_consolidated_state_dict",
    "get_sharded_state_dict",
    "load_consolidated_state_dict",
    "load_sharded_state_dict",
    "read_world_info",
    "reduce_from_tp",
    "scatter_to_tp",
    "setup_gangs",
    "shard_modules",
    "split_gangs",
    "to_ddp",
    "to_fsdp",
    "unwrap_model",
]
