"""Pipeline sources that combine or generate examples, over the native engine."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from seqkit import _native
from seqkit._native import DataPipeline, DataPipelineBuilder

__all__ = [
    "DataPipeline",
    "DataPipelineBuilder",
    "concat",
    "constant",
    "count",
    "read_sequence",
    "round_robin",
    "sample",
    "zip",
]


def read_sequence(seq: Iterable[object]) -> DataPipelineBuilder:
    """Start a pipeline that yields the items of ``seq`` (copied when the pipeline is built)."""
    return _native.read_sequence(list(seq))


def constant(example: object) -> DataPipelineBuilder:
    """Start an endless pipeline that yields ``example`` again and again."""
    return _native.constant(example)


def count(start: int = 0, step: int = 1) -> DataPipelineBuilder:
    """Start an endless pipeline that yields ``start``, ``start + step``, ..."""
    return _native.count(start, step)


def zip(
    pipelines: Sequence[DataPipeline],
    names: Sequence[str] | None = None,
    *,
    zip_to_shortest: bool = False,
    flatten: bool = False,
) -> DataPipelineBuilder:
    """Yield one element from each pipeline at a time: a tuple, or a dict keyed by ``names``.

    The pipelines must have the same length unless ``zip_to_shortest``; ``flatten``
    merges dict elements into one dict. The new pipeline owns the given ones.
    """
    return _native.zip(list(pipelines), list(names or []), zip_to_shortest, flatten)


def round_robin(
    pipelines: Sequence[DataPipeline], *, stop_at_shortest: bool = False
) -> DataPipelineBuilder:
    """Take one element from each pipeline in turn.

    A pipeline that ends restarts until every pipeline has ended at least once
    (or, with ``stop_at_shortest``, the first end stops the whole pipeline).
    """
    return _native.round_robin(list(pipelines), stop_at_shortest)


def sample(
    pipelines: Sequence[DataPipeline], weights: Sequence[float], *, seed: int = 0
) -> DataPipelineBuilder:
    """Draw each element from a pipeline picked at random with the given ``weights``.

    A pipeline that ends restarts until every pipeline has ended at least once.
    """
    if len(weights) != len(pipelines) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(
            "sample() needs one non-negative weight per pipeline with a positive sum, "
            f"got {list(weights)}"
        )
    return _native.sample(list(pipelines), [float(w) for w in weights], seed)


def concat(pipelines: Sequence[DataPipeline]) -> DataPipelineBuilder:
    """Yield every element of the first pipeline, then of the second, and so on."""
    return _native.concat(list(pipelines))
