"""Swap a model's linears and embeddings for tensor-parallel ones, by module path."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from fnmatch import fnmatchcase

from torch.nn import Embedding, Linear, Module

from seqkit.gang.errors import ShardingError
from seqkit.gang.gang import Gang
from seqkit.gang.tensor_parallel import (
    ColumnShardedLinear,
    RowShardedLinear,
    VocabShardedEmbedding,
)


class ShardKind(Enum):
    """How :func:`shard_modules` replaces a module."""

    COLUMN = "column"
    """Linear -> :class:`ColumnShardedLinear`, output left sharded (q/k/v, FFN gate/inner)."""

    COLUMN_GATHER = "column_gather"
    """Linear -> :class:`ColumnShardedLinear` with the output gathered (vocab projection)."""

    ROW = "row"
    """Linear -> :class:`RowShardedLinear` fed by a sharded input (attention/FFN output)."""

    VOCAB = "vocab"
    """Embedding -> :class:`VocabShardedEmbedding`."""


def shard_modules(model: Module, gang: Gang, plan: Mapping[str, ShardKind]) -> list[str]:
    """Replace, in place, each submodule whose dotted path matches a pattern of ``plan``
    (``fnmatch`` syntax: ``decoder.layers.*.ffn.gate_proj``) by its sharded version.

    Every rank must hold the same full weights beforehand. Returns the replaced paths.
    A pattern that matches nothing, or a module of the wrong type, raises
    :class:`ShardingError`, so a renamed attribute cannot silently leave a layer whole.
    """
    if gang.size == 1:
        return []
    replaced: list[str] = []
    for pattern, kind in plan.items():
        names = [n for n, _ in model.named_modules() if n and fnmatchcase(n, pattern)]
        if not names:
            raise ShardingError(
                f"The sharding pattern {pattern!r} matches no module of "
                f"{type(model).__name__}; check the module paths (`model.named_modules()`)."
            )
        for name in names:
            parent_name, _, attr = name.rpartition(".")
            parent = model.get_submodule(parent_name)
            setattr(parent, attr, _shard(getattr(parent, attr), name, kind, gang))
            replaced.append(name)
    return replaced


def _shard(module: Module, name: str, kind: ShardKind, gang: Gang) -> Module:
    if kind is ShardKind.VOCAB:
        if not isinstance(module, Embedding):
            raise ShardingError(f"{name} is a {type(module).__name__}, not an Embedding.")
        return VocabShardedEmbedding.from_embedding(module, gang)
    if not isinstance(module, Linear):
        raise ShardingError(f"{name} is a {type(module).__name__}, not a Linear.")
    if kind is ShardKind.ROW:
        return RowShardedLinear.from_linear(module, gang)
    return ColumnShardedLinear.from_linear(
        module, gang, gather_output=kind is ShardKind.COLUMN_GATHER
    )
